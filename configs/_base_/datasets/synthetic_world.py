# The synthetic world (tools/data/make_synthetic_world.py): COCO layouts under data/synthetic_world, or the folder
# MMDISTILL_WORLD names (the main job sets it to its run's world; also for `MMDISTILL_WORLD=DIR tools/train.py ...`).
data_root = '{{$MMDISTILL_WORLD:data/synthetic_world}}/'
image_size = 96

# CLIP's normalisation; images load as BGR.
clip_mean = [122.7709383, 116.7460125, 104.09373615]
clip_std = [68.5005327, 66.6321579, 70.32316305]

# Pretraining runs ~18 epochs: each image is decoded once and kept (330 MB for 12 000 images).
caption_train_pipeline = [
    dict(type='LoadImageFromFileCached'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='RandomCaption'),
    dict(type='PackImageText'),
]
caption_train_dataset = dict(
    type='CocoCaptionDataset',
    data_root=data_root,
    ann_file='annotations/captions_train2017.json',
    data_prefix=dict(img_path='train2017'),
    pipeline=caption_train_pipeline)

panoptic_test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadPanopticSegments'),
    dict(type='mmdet.PackDetInputs', meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape')),
]
panoptic_val_dataset = dict(
    type='SyntheticWorldPanopticDataset',
    data_root=data_root,
    ann_file='annotations/panoptic_val2017.json',
    data_prefix=dict(img='val2017/', seg='annotations/panoptic_val2017/'),
    test_mode=True,
    pipeline=panoptic_test_pipeline)
