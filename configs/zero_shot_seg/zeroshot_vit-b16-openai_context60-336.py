# Training-free zero-shot segmentation, OpenAI CLIP ViT-B/16, PASCAL Context val (5105 images), 60 classes
# with class 0 = background: short side 336, 224 px windows every 112 px, pixels whose top probability is
# below 0.1 -> background. Data: data/VOCdevkit/VOC2010 (mmseg layout, SegmentationClassContext).
_base_ = ['../_base_/models/zero_shot_vit-b16.py', '../_base_/zero_shot_seg_runtime.py']

benchmark = 'Context60'
short_side = 336
# PascalContextDataset's label order.
classes = [
    'background', 'aeroplane;airplane', 'bag', 'bed', 'bedclothes', 'bench', 'bicycle', 'bird', 'boat', 'book',
    'bottle', 'building', 'bus', 'cabinet', 'car', 'cat', 'ceiling', 'chair', 'cloth', 'computer', 'cow', 'cup',
    'curtain', 'dog', 'door', 'fence', 'floor', 'flower', 'food', 'grass', 'ground', 'horse', 'keyboard', 'light',
    'motorbike;motorcycle', 'mountain', 'mouse', 'person', 'plate', 'platform', 'potted plant', 'road', 'rock',
    'sheep', 'shelves', 'sidewalk', 'sign', 'sky', 'snow', 'sofa', 'table', 'track', 'train', 'tree', 'truck',
    'tv monitor;television', 'wall', 'water', 'window', 'wood',
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
        type='PascalContextDataset',
        data_root='data/VOCdevkit/VOC2010',
        data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClassContext'),
        ann_file='ImageSets/SegmentationContext/val.txt',
        pipeline=test_pipeline))
test_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
