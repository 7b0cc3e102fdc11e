# Training-free zero-shot segmentation, OpenAI CLIP ViT-B/16, Cityscapes val (500 images), 19 classes:
# short side 560 (1120 x 560), 224 px windows every 112 px. Data: data/cityscapes after mmseg's
# tools/dataset_converters/cityscapes.py (*_gtFine_labelTrainIds.png).
_base_ = ['../_base_/models/zero_shot_vit-b16.py', '../_base_/zero_shot_seg_runtime.py']

benchmark = 'Cityscapes'
short_side = 560

# CityscapesDataset's label order, SCLIP's configs/cls_city_scapes.txt names ('trafficlight', 'trafficsign');
# logit scale 40 (the base's)
classes = [
    'road', 'sidewalk', 'building', 'wall', 'fence', 'pole', 'trafficlight', 'trafficsign', 'vegetation', 'terrain',
    'sky', 'person', 'rider', 'car', 'truck', 'bus', 'train', 'motorcycle', 'bicycle'
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
        type='CityscapesDataset',
        data_root='data/cityscapes',
        data_prefix=dict(img_path='leftImg8bit/val', seg_map_path='gtFine/val'),
        pipeline=test_pipeline))
test_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
