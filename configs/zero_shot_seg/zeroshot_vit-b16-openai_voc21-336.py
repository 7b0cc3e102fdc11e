# Training-free zero-shot segmentation, OpenAI CLIP ViT-B/16, PASCAL VOC 2012 val (1449 images), 21 classes
# with class 0 = background: short side 336, 224 px windows every 112 px, pixels whose top probability is
# below 0.1 -> background. Data: data/VOCdevkit/VOC2012 (mmseg layout). All benchmarks in one command:
#   python tools/analysis/zero_shot_suite.py configs/zero_shot_seg/*.py
_base_ = ['../_base_/models/zero_shot_vit-b16.py', '../_base_/zero_shot_seg_runtime.py']

benchmark = 'VOC21'
short_side = 336
# PascalVOCDataset's label order, SCLIP's configs/cls_voc21.txt names (a class's names joined by ';', probability =
# max over them): background = a list of stuff words.
classes = [
    'sky;wall;tree;wood;grass;road;sea;river;mountain;sands;desk;bed;building;cloud;lamp;door;window;wardrobe;'
    'ceiling;shelf;curtain;stair;floor;hill;rail;fence',
    'aeroplane', 'bicycle', 'bird', 'ship', 'bottle', 'bus', 'car', 'cat', 'chair', 'cow', 'table', 'dog', 'horse',
    'motorbike', 'person;person in shirt;person in jeans;person in dress;person in sweater;person in skirt;'
    'person in jacket',
    'pottedplant', 'sheep', 'sofa', 'train', 'television monitor;tv monitor;monitor;television;screen',
]

# SCLIP's configs/cfg_voc21.py: logit_scale=65, prob_thd=0.1, area_thd=0.1
model = dict(vocabulary=dict(classes=classes), logit_scale=65.0, background_threshold=0.1, area_threshold=0.1)

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
