# Training-free zero-shot segmentation, OpenAI CLIP ViT-B/16, COCO-Object val2017 (5000 images): the 80 COCO
# object classes + background (class 0), read from COCO-Stuff 164k's maps (COCOObjectDataset: every stuff
# class is background): short side 336, 224 px windows every 112 px, pixels whose top probability is below
# 0.1 -> background. Data: data/coco_stuff164k (mmseg layout, *_labelTrainIds.png).
_base_ = ['../_base_/models/zero_shot_vit-b16.py', '../_base_/zero_shot_seg_runtime.py']

benchmark = 'COCO-Object'
short_side = 336

model = dict(vocabulary=dict(classes=dict(dataset='mmseg.COCOObjectDataset')), background_threshold=0.1)

test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(2048, short_side), keep_ratio=True),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs'),
]
test_dataloader = dict(
    dataset=dict(
        type='COCOObjectDataset',
        data_root='data/coco_stuff164k',
        data_prefix=dict(img_path='images/val2017', seg_map_path='annotations/val2017'),
        pipeline=test_pipeline))
test_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
