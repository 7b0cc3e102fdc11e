# Cat-Seg training at 384 px (ViT-B/16), the official recipe (CAT-Seg configs/config.yaml + vitb_384.yaml,
# MaskFormerSemanticDatasetMapper): short side resized to exactly 384 (MIN_SIZE_TRAIN (384,), "choice"; long side
# at most detectron2's default MAX_SIZE_TRAIN 1333), a 384 x 384 crop without a single-category limit
# (SINGLE_CATEGORY_MAX_AREA 1.0), SSD colour augmentation (COLOR_AUG_SSD), horizontal flip; 4 images per step
# (IMS_PER_BATCH 4; with N processes set train_dataloader.batch_size=4 // N), 80k iterations. Children set the
# datasets.
_base_ = ['../../_base_/models/catseg_vit-b16.py', './catseg_runtime.py']

crop_size = (384, 384)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='Resize', scale=(1333, 384), keep_ratio=True),  # ResizeShortestEdge(384, max_size=1333)
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=1.0),  # SINGLE_CATEGORY_MAX_AREA 1.0
    # detectron2's ColorAugSSDTransform = mmseg's PhotoMetricDistortion with its defaults: the same SSD recipe,
    # brightness +-32, contrast and saturation 0.5-1.5, hue +-18, each drawn with probability 0.5, contrast first
    # or last at random
    dict(type='PhotoMetricDistortion'),
    dict(type='RandomFlip', prob=0.5),
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
