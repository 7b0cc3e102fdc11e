# Training-free zero-shot segmentation, OpenAI CLIP ViT-B/16, PASCAL Context val, the 59 classes without
# background (background pixels ignored: reduce_zero_label): short side 336, 224 px windows every 112 px.
# Data: data/VOCdevkit/VOC2010 (mmseg layout, SegmentationClassContext).
_base_ = ['../_base_/models/zero_shot_vit-b16.py', '../_base_/zero_shot_seg_runtime.py']

benchmark = 'Context59'
short_side = 336
# PascalContextDataset59's label order and names = SCLIP's configs/cls_context59.txt; logit scale 40 (the base's)
classes = dict(dataset='mmseg.PascalContextDataset59')

model = dict(vocabulary=dict(classes=classes))

test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(2048, short_side), keep_ratio=True),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs'),
]
test_dataloader = dict(
    dataset=dict(
        type='PascalContextDataset59',
        data_root='data/VOCdevkit/VOC2010',
        data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClassContext'),
        ann_file='ImageSets/SegmentationContext/val.txt',
        pipeline=test_pipeline))
test_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
