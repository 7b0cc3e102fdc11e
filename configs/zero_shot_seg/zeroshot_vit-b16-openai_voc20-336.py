# Training-free zero-shot segmentation, OpenAI CLIP ViT-B/16, PASCAL VOC 2012 val, the 20 object classes
# without background (background pixels ignored): short side 336, 224 px windows every 112 px.
# Data: data/VOCdevkit/VOC2012 (mmseg layout).
_base_ = ['../_base_/models/zero_shot_vit-b16.py', '../_base_/zero_shot_seg_runtime.py']

benchmark = 'VOC20'
short_side = 336
# A subset of PascalVOCDataset's classes: mmseg maps their labels to 0-19 and background to the ignore index.
voc20 = ('aeroplane', 'bicycle', 'bird', 'boat', 'bottle', 'bus', 'car', 'cat', 'chair', 'cow', 'diningtable',
         'dog', 'horse', 'motorbike', 'person', 'pottedplant', 'sheep', 'sofa', 'train', 'tvmonitor')
# SCLIP's configs/cls_voc20.txt names (a class's names joined by ';'); logit scale 40 (the base's)
classes = [
    'aeroplane', 'bicycle', 'bird', 'ship', 'bottle', 'bus', 'car', 'cat', 'chair', 'cow', 'table', 'dog', 'horse',
    'motorbike', 'person;person in shirt;person in jeans;person in dress;person in sweater;person in skirt;'
    'person in jacket',
    'pottedplant', 'sheep', 'sofa', 'train', 'television monitor;tv monitor;monitor;television;screen',
]

model = dict(vocabulary=dict(classes=classes))

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
        metainfo=dict(classes=voc20),
        pipeline=test_pipeline))
test_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
