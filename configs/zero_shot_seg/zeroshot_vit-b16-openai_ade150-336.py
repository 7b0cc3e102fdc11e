# Training-free zero-shot segmentation, OpenAI CLIP ViT-B/16, ADE20K val (2000 images), 150 classes:
# short side 336, 224 px windows every 112 px. Data: data/ade/ADEChallengeData2016 (mmseg layout).
_base_ = ['../_base_/models/zero_shot_vit-b16.py', '../_base_/zero_shot_seg_runtime.py']

benchmark = 'ADE20K-150'
short_side = 336

model = dict(vocabulary=dict(classes=dict(dataset='mmseg.ADE20KDataset')))

test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(2048, short_side), keep_ratio=True),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs'),
]
test_dataloader = dict(
    dataset=dict(
        type='ADE20KDataset',
        data_root='data/ade/ADEChallengeData2016',
        data_prefix=dict(img_path='images/validation', seg_map_path='annotations/validation'),
        pipeline=test_pipeline))
test_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
