# Cat-Seg ViT-B/16 ("updated": text tower q / v train too) trained on ADE20K (150 classes), as paper 001 does
# (Table 4, App. D.2); then evaluated on ADE-150 (in-domain: not zero-shot), ADE-847 and PASCAL Context.
#   python tools/train.py configs/catseg/catseg_vit-b16-openai_1xb4-80k_ade150-384.py \
#       --cfg-options model.tower.checkpoint=work_dirs/<r_sc_clipself>_open_clip.pt
_base_ = ['./_base_/catseg_train.py']

data_root = 'data/ade/ADEChallengeData2016'
model = dict(vocabulary=dict(classes=dict(dataset='mmseg.ADE20KDataset')))

train_dataloader = dict(dataset=dict(
    type='ADE20KDataset', data_root=data_root, reduce_zero_label=True,
    data_prefix=dict(img_path='images/training', seg_map_path='annotations/training'),
    pipeline={{_base_.train_pipeline}}))
val_dataloader = dict(dataset=dict(
    type='ADE20KDataset', data_root=data_root, reduce_zero_label=True,
    data_prefix=dict(img_path='images/validation', seg_map_path='annotations/validation'),
    pipeline={{_base_.val_pipeline}}))
test_dataloader = val_dataloader
