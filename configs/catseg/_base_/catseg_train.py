# Cat-Seg training at 384 px (ViT-B/16): random resize (0.5-2.0 of a 384 short side), 384 crops, flip and
# photometric distortion; one process with 4 images per step (Cat-Seg: 4 images per step over 4 GPUs; with
# N processes set train_dataloader.batch_size=4 // N), 80k iterations. Children set the datasets.
_base_ = ['../../_base_/models/catseg_vit-b16.py', './catseg_runtime.py']

crop_size = (384, 384)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='RandomResize', scale=(1536, 384), ratio_range=(0.5, 2.0), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs'),
]
val_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(2560, 640), keep_ratio=True),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs'),
]
train_dataloader = dict(batch_size=4, num_workers=4, persistent_workers=True,
                        sampler=dict(type='InfiniteSampler', shuffle=True))
val_dataloader = dict(batch_size=1, num_workers=4, persistent_workers=False,
                      sampler=dict(type='DefaultSampler', shuffle=False))
test_dataloader = val_dataloader
val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator
