# Training-free zero-shot segmentation, OpenAI CLIP ViT-B/16, PASCAL Context val (5105 images), 60 classes
# with class 0 = background: short side 336, 224 px windows every 112 px, pixels whose top probability is
# below 0.1 -> background. Data: data/VOCdevkit/VOC2010 (mmseg layout, SegmentationClassContext).
_base_ = ['../_base_/models/zero_shot_vit-b16.py', '../_base_/zero_shot_seg_runtime.py']

benchmark = 'Context60'
short_side = 336
# PascalContextDataset's label order and names = SCLIP's configs/cls_context60.txt (one 'background' word there).
classes = dict(dataset='mmseg.PascalContextDataset')

# SCLIP's configs/cfg_context60.py: logit_scale=50, prob_thd=0.1
model = dict(vocabulary=dict(classes=classes), logit_scale=50.0, background_threshold=0.1)

test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(2048, short_side), keep_ratio=True),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs'),
]
test_dataloader = dict(
    dataset=dict(
        type='PascalContextDataset',
        data_root='data/VOCdevkit/VOC2010',
        data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClassContext'),
        ann_file='ImageSets/SegmentationContext/val.txt',
        pipeline=test_pipeline))
test_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
