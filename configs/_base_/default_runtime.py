# Runtime shared by every mmdistill config.
default_scope = 'mmdistill'
custom_imports = dict(imports=['mmdistill'], allow_failed_imports=False)

env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'))

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=1000, max_keep_ckpts=2,
                    backend_args=dict(backend='atomic_local')),  # written atomically
    sampler_seed=dict(type='DistSamplerSeedHook'))
# a non-finite loss stops the run before its step (docs/reliability.md); mode='skip' skips such steps
custom_hooks = [dict(type='LossGuardHook')]

log_processor = dict(type='LogProcessor', window_size=20, by_epoch=False)
log_level = 'INFO'
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='Visualizer', vis_backends=vis_backends, name='visualizer')
randomness = dict(seed=0)
load_from = None
resume = False
