# Training-free zero-shot segmentation, OpenAI CLIP ViT-B/16, PASCAL VOC 2012 val (1449 images), 21 classes
# with class 0 = background: short side 336, 224 px windows every 112 px, pixels whose top probability is
# below 0.1 -> background. Data: data/VOCdevkit/VOC2012 (mmseg layout). All benchmarks in one command:
#   python tools/analysis/zero_shot_suite.py configs/zero_shot_seg/*.py
_base_ = ['../_base_/models/zero_shot_vit-b16.py', '../_base_/zero_shot_seg_runtime.py']

benchmark = 'VOC21'
short_side = 336
# PascalVOCDataset's label order; synonyms of a class are joined by ';'.
classes = [
    'background', 'aeroplane;airplane', 'bicycle', 'bird', 'boat', 'bottle', 'bus', 'car', 'cat', 'chair', 'cow',
    'dining table', 'dog', 'horse', 'motorbike;motorcycle', 'person', 'potted plant', 'sheep', 'sofa', 'train',
    'tv monitor;television',
]

model = dict(vocabulary=dict(classes=classes), background_threshold=0.1)

test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(2048, short_side), keep_ratio=True),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs'),
]
test_dataloader = dict(
    dataset=dict(
        type='PascalVOCDataset',
        data_root='data/VOCdevkit/VOC2012',
        data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClass'),
        ann_file='ImageSets/Segmentation/val.txt',
        pipeline=test_pipeline))
test_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
