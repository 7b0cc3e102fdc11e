# Cat-Seg ViT-B/16 on ADE20K val (2000 images), 150 classes (mmseg layout).
_base_ = ['./_base_/catseg_eval.py']

benchmark = 'ADE-150'
# ADE20KDataset's names = CAT-Seg's datasets/ade150.json
model = dict(vocabulary=dict(classes=dict(dataset='mmseg.ADE20KDataset')))

test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(2560, {{_base_.short_side}}), keep_ratio=True),
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
