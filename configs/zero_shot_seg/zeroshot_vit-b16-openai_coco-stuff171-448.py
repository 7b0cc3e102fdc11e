# Training-free zero-shot segmentation, OpenAI CLIP ViT-B/16, COCO-Stuff 164k val2017 (5000 images), 171
# classes: short side 448, 224 px windows every 112 px. Data: data/coco_stuff164k after mmseg's
# tools/dataset_converters/coco_stuff164k.py (the *_labelTrainIds.png maps, not the raw ones).
_base_ = ['../_base_/models/zero_shot_vit-b16.py', '../_base_/zero_shot_seg_runtime.py']

benchmark = 'COCO-Stuff171'
short_side = 448

# COCOStuffDataset's names; the prompts drop '-other' / '-stuff' and turn '-' into ' ' ('wall-brick' -> 'wall brick').
model = dict(vocabulary=dict(classes=dict(dataset='mmseg.COCOStuffDataset'), text=dict(name_cleaner='coco_stuff')))

test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(2048, short_side), keep_ratio=True),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs'),
]
test_dataloader = dict(
    dataset=dict(
        type='COCOStuffDataset',
        data_root='data/coco_stuff164k',
        data_prefix=dict(img_path='images/val2017', seg_map_path='annotations/val2017'),
        seg_map_suffix='_labelTrainIds.png',
        pipeline=test_pipeline))
test_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
