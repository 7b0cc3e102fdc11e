# Inductive zero-shot segmentation on PASCAL VOC 2012 (aug): 15 seen / 5 unseen of the 20 object classes,
# background ignored in training and testing; 512 x 512 crops, slide test with 512 windows every 426 px.
# Data: data/VOCdevkit/VOC2012 with SegmentationClassAug (mmseg's layout, tools/dataset_converters/voc_aug.py).
# Training set: the 10 582-image "trainaug" of ZegCLIP / paper 003 = VOC train.txt (1 464, SegmentationClass) +
# mmseg's aug.txt (9 118: SBD train + val minus VOC train and val, SegmentationClassAug), concatenated as mmseg's
# pascal_voc12_aug.py does.
data_root = 'data/VOCdevkit/VOC2012'
crop_size = (512, 512)
# A subset of PascalVOCDataset's classes: mmseg maps their labels to 0-19 and background to the ignore index.
classes = ['aeroplane', 'bicycle', 'bird', 'boat', 'bottle', 'bus', 'car', 'cat', 'chair', 'cow', 'diningtable', 'dog',
           'horse', 'motorbike', 'person', 'pottedplant', 'sheep', 'sofa', 'train', 'tvmonitor']
unseen_classes = ['pottedplant', 'sheep', 'sofa', 'train', 'tvmonitor']
dataset_type = 'PascalVOCDataset'
test_data = dict(type=dataset_type, data_root=data_root, metainfo=dict(classes=classes),
                 data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClass'),
                 ann_file='ImageSets/Segmentation/val.txt')
scale = (2048, 512)

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='SeenClassLabels', classes=classes, unseen_classes=unseen_classes),
    dict(type='RandomResize', scale=scale, ratio_range=(0.5, 2.0), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=scale, keep_ratio=True),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs'),
]
train_data = dict(type='ConcatDataset', datasets=[
    dict(type=dataset_type, data_root=data_root, metainfo=dict(classes=classes),  # 1 464 images
         data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClass'),
         ann_file='ImageSets/Segmentation/train.txt', pipeline=train_pipeline),
    dict(type=dataset_type, data_root=data_root, metainfo=dict(classes=classes),  # 9 118 images
         data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClassAug'),
         ann_file='ImageSets/Segmentation/aug.txt', pipeline=train_pipeline),
])  # 10 582 images
train_dataloader = dict(batch_size=2, num_workers=4, persistent_workers=True,
                        sampler=dict(type='InfiniteSampler', shuffle=True),
                        dataset=train_data)
val_dataloader = dict(batch_size=1, num_workers=4, persistent_workers=True,
                      sampler=dict(type='DefaultSampler', shuffle=False),
                      dataset=dict(test_data, pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='ZeroShotIoUMetric', unseen_classes=unseen_classes)
test_evaluator = val_evaluator
