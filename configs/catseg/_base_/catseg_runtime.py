# Runtime of Cat-Seg training in mmseg (iteration-based): AdamW 2e-4, weight decay 1e-4, the CLIP towers' query /
# value projections at 0.01 x the learning rate, gradient-norm clipping at 0.01 over the whole model, warm-up then
# cosine decay (Cat-Seg's detectron2 solver: configs/config.yaml SOLVER). No weight decay on norm layers and on the
# relative position tables (Mask2Former's build_optimizer, which Cat-Seg uses: WEIGHT_DECAY_NORM = WEIGHT_DECAY_EMBED
# = 0.0 for norm modules, embeddings and "relative_position_bias_table").
default_scope = 'mmseg'
custom_imports = dict(imports=['mmdistill'], allow_failed_imports=False)

max_iters = 80000
warmup_iters = 0
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=2e-4, betas=(0.9, 0.999), weight_decay=1e-4),
    clip_grad=dict(max_norm=0.01, norm_type=2),
    paramwise_cfg=dict(
        norm_decay_mult=0.0,
        custom_keys={'tower.': dict(lr_mult=0.01),  # tower.* and text_tower.* (CLIP_MULTIPLIER 0.01)
                     'relative_position_bias_table': dict(decay_mult=0.0)}))
param_scheduler = [dict(type='CosineAnnealingLR', eta_min=0.0, by_epoch=False, begin=0, end=max_iters)]
env_cfg = dict(cudnn_benchmark=False, mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
               dist_cfg=dict(backend='nccl'))
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=5000, max_keep_ckpts=1,
                    backend_args=dict(backend='atomic_local')),  # written atomically
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='SegVisualizationHook'))
custom_hooks = [dict(type='mmdistill.LossGuardHook')]  # a non-finite loss stops the run before its step
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='SegLocalVisualizer', vis_backends=vis_backends, name='visualizer')
log_processor = dict(by_epoch=False)
log_level = 'INFO'
load_from = None
resume = False
