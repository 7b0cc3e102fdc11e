# Stage 0 of the quickstart: pretrain the tiny CLIP (both towers) on the synthetic
# world's image-caption pairs with the image-text contrastive loss.
_base_ = ['../_base_/default_runtime.py', '../_base_/datasets/synthetic_world.py']

arch = 'mmdistill-world-ViT-P12'
max_iters = 800
batch_size = 128

model = dict(
    type='CLIPPretrainer',
    arch=arch,
    loss=dict(type='ImageTextContrastiveLoss', kind='softmax'),
    data_preprocessor=dict(
        type='ImgDataPreprocessor', mean={{_base_.clip_mean}}, std={{_base_.clip_std}}, bgr_to_rgb=True))

# Data loading in the main process: on 2 cores a loader worker competes with the two compute
# threads (measured with the earlier fp32 recipe: 0.78 s/step with 2 workers, 0.69 with none).
# Each image is decoded once and kept (LoadImageFromFileCached), so data costs ~15 ms per step.
# On a machine with spare cores, workers are faster: --cfg-options train_dataloader.num_workers=4
# train_dataloader.persistent_workers=True (each worker keeps its own decoded images).
train_dataloader = dict(
    batch_size=batch_size,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset={{_base_.caption_train_dataset}})

train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters)
# bfloat16 autocast on CPUs that multiply bfloat16 natively (float32 on the others) and fused AdamW
# over merged parameter groups. 800 steps of the light tower (MLP ratio 2, 2 text blocks) take under
# 10 minutes on 2 AVX2 cores in float32 (docs/benchmarks.md).
optim_wrapper = dict(
    type='BF16OptimWrapper',
    optimizer=dict(type='AdamW', lr=2e-3, betas=(0.9, 0.98), eps=1e-6, weight_decay=0.1, fused=True),
    constructor='GroupedOptimWrapperConstructor',
    paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=0.0, flat_decay_mult=0.0,
                       custom_keys={'logit_scale': dict(decay_mult=0.0)}),
    clip_grad=dict(max_norm=1.0))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=50),
    dict(type='CosineAnnealingLR', T_max=max_iters - 50, eta_min=1e-5, by_epoch=False, begin=50, end=max_iters),
]
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=20),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=200, max_keep_ckpts=1))
# The exported tower is the exponential moving average of the weights (+0.6 points of crop accuracy).
custom_hooks = [dict(type='EMAHook', momentum=0.01), dict(type='LossGuardHook')]
