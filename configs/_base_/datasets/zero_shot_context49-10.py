# Inductive zero-shot segmentation on PASCAL Context (59 classes): 49 seen / 10 unseen; 512 x 512 crops.
# Data: data/VOCdevkit/VOC2010 with SegmentationClassContext (mmseg's layout).
_base_ = ['./zero_shot_voc15-5.py']

data_root = 'data/VOCdevkit/VOC2010'
classes = dict(_delete_=True, dataset='mmseg.PascalContextDataset59')
unseen_classes = ['cow', 'motorbike', 'sofa', 'cat', 'boat', 'fence', 'bird', 'tvmonitor', 'keyboard', 'aeroplane']
dataset_type = 'PascalContextDataset59'
train_data = dict(_delete_=True, type=dataset_type, data_root=data_root,
                  data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClassContext'),
                  ann_file='ImageSets/SegmentationContext/train.txt')
test_data = dict(_delete_=True, type=dataset_type, data_root=data_root,
                 data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClassContext'),
                 ann_file='ImageSets/SegmentationContext/val.txt')
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='SeenClassLabels', classes=dict(dataset='mmseg.PascalContextDataset59'), unseen_classes=unseen_classes),
    dict(type='RandomResize', scale=(2048, 512), ratio_range=(0.5, 2.0), keep_ratio=True),
    dict(type='RandomCrop', crop_size=(512, 512), cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs'),
]
train_dataloader = dict(dataset=dict(train_data, pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(test_data, pipeline={{_base_.test_pipeline}}))
test_dataloader = val_dataloader
val_evaluator = dict(type='ZeroShotIoUMetric', unseen_classes=unseen_classes)
test_evaluator = val_evaluator
