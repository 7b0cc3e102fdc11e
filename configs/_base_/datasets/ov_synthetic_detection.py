# Open-vocabulary detection on the synthetic world (the OV-COCO protocol on 24 things): training boxes of the
# 18 base things only, test on all 24; both files written by tools/data/prepare_ov_world.py from the world's
# splits/ov_detection.json. Images are upscaled 2x (96 -> 192 px), as in the world's distillation configs.
data_root = '{{$MMDISTILL_WORLD:data/synthetic_world}}/'
split_file = data_root + 'splits/ov_detection.json'
classes = ('red circle', 'red square', 'red star', 'orange square', 'orange diamond', 'orange heart',
           'yellow diamond', 'yellow star', 'yellow triangle', 'green star', 'green heart', 'green cross',
           'blue heart', 'blue triangle', 'blue hexagon', 'purple triangle', 'purple cross', 'purple circle',
           'striped cross', 'striped hexagon', 'striped square', 'dotted hexagon', 'dotted circle', 'dotted diamond')
image_size = (192, 192)

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='RandomResize', scale=image_size, ratio_range=(0.75, 1.5), keep_ratio=True),
    dict(type='RandomCrop', crop_type='absolute_range', crop_size=image_size, recompute_bbox=True,
         allow_negative_crop=True),
    dict(type='FilterAnnotations', min_gt_bbox_wh=(1e-2, 1e-2)),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=image_size, keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='PackDetInputs', meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor')),
]
train_dataloader = dict(
    batch_size=8,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    batch_sampler=dict(type='AspectRatioBatchSampler'),
    dataset=dict(
        type='CocoDataset',
        data_root=data_root,
        metainfo=dict(classes=classes),
        ann_file='annotations/ov/instances_train2017_ov_base.json',
        data_prefix=dict(img='train2017/'),
        filter_cfg=dict(filter_empty_gt=True, min_size=8),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=16,
    num_workers=2,
    persistent_workers=False,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='CocoDataset',
        data_root=data_root,
        metainfo=dict(classes=classes),
        ann_file='annotations/ov/instances_val2017_ov_all.json',
        data_prefix=dict(img='val2017/'),
        test_mode=True,
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='OVSplitCocoMetric', ann_file=data_root + 'annotations/ov/instances_val2017_ov_all.json',
                     split_file=split_file, metric='bbox')
test_evaluator = val_evaluator
