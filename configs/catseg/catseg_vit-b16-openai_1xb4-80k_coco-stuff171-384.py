# Cat-Seg ViT-B/16 trained on COCO-Stuff 164k train (171 classes), as Cat-Seg does. Validation here is in-domain
# (COCO-Stuff val); the open-vocabulary numbers come from the other datasets (catseg_vit-b16-openai_eval-*.py).
#   python tools/train.py configs/catseg/catseg_vit-b16-openai_1xb4-80k_coco-stuff171-384.py
#   (a distilled tower: --cfg-options model.tower.checkpoint=work_dirs/<tower>_open_clip.pt)
_base_ = ['./_base_/catseg_train.py']

data_root = 'data/coco_stuff164k'
# COCOStuffDataset's raw names ('building-other', 'wall-brick'), as CAT-Seg's datasets/coco.json (TRAIN_CLASS_JSON)
model = dict(vocabulary=dict(classes=dict(dataset='mmseg.COCOStuffDataset')))

train_dataloader = dict(dataset=dict(
    type='COCOStuffDataset', data_root=data_root,
    data_prefix=dict(img_path='images/train2017', seg_map_path='annotations/train2017'),
    pipeline={{_base_.train_pipeline}}))
val_dataloader = dict(dataset=dict(
    type='COCOStuffDataset', data_root=data_root,
    data_prefix=dict(img_path='images/val2017', seg_map_path='annotations/val2017'),
    pipeline={{_base_.val_pipeline}}))
test_dataloader = val_dataloader
