# Shared by the distillation configs on the synthetic world: the tiny CLIP of the
# quickstart as student and teacher, images (+ proposals) of the world's train split.
_base_ = ['../default_runtime.py', '../datasets/synthetic_world.py']

arch = 'mmdistill-world-ViT-P12'
clip_checkpoint = '{{$MMDISTILL_TINY_CLIP:work_dirs/quickstart/tiny_clip.pt}}'
student_size = 192  # 2x the tower's native 96 px: a 16 x 16 dense grid
max_iters = 200
batch_size = 16

data_preprocessor = dict(
    type='ImgDataPreprocessor', mean={{_base_.clip_mean}}, std={{_base_.clip_std}}, bgr_to_rgb=True)

distill_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='PackImageText', meta_keys=('img_id', 'img_path', 'img_shape', 'ori_shape', 'proposals')),
]
train_dataloader = dict(
    batch_size=batch_size,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type='CocoImageDataset',
        data_root={{_base_.data_root}},
        ann_file='annotations/instances_train2017.json',
        data_prefix=dict(img_path='train2017'),
        proposal_file='proposals/proposals_train2017.json',
        pipeline=distill_pipeline))

train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters)
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=2e-4, betas=(0.9, 0.999), weight_decay=0.1),
    paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=0.0, flat_decay_mult=0.0),
    clip_grad=dict(max_norm=1.0))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=30),
    dict(type='CosineAnnealingLR', T_max=max_iters - 30, eta_min=1e-6, by_epoch=False, begin=30, end=max_iters),
]
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=20),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=100, max_keep_ckpts=1))
