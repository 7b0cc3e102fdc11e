# Inductive zero-shot segmentation on COCO-Stuff 164k (171 classes): 156 seen / 15 unseen; 512 x 512 crops.
# Data: data/coco_stuff164k (mmseg's layout, *_labelTrainIds.png from tools/dataset_converters/coco_stuff164k.py).
_base_ = ['./zero_shot_voc15-5.py']

data_root = 'data/coco_stuff164k'
classes = dict(_delete_=True, dataset='mmseg.COCOStuffDataset')
unseen_classes = ['cow', 'giraffe', 'suitcase', 'frisbee', 'skateboard', 'carrot', 'scissors', 'cardboard', 'clouds',
                  'grass', 'playingfield', 'river', 'road', 'tree', 'wall-concrete']
dataset_type = 'COCOStuffDataset'
train_data = dict(_delete_=True, type=dataset_type, data_root=data_root, seg_map_suffix='_labelTrainIds.png',
                  data_prefix=dict(img_path='images/train2017', seg_map_path='annotations/train2017'))
test_data = dict(_delete_=True, type=dataset_type, data_root=data_root, seg_map_suffix='_labelTrainIds.png',
                 data_prefix=dict(img_path='images/val2017', seg_map_path='annotations/val2017'))
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='SeenClassLabels', classes=dict(dataset='mmseg.COCOStuffDataset'), unseen_classes=unseen_classes),
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
