# Runtime and test loop of the zero-shot segmentation benchmarks (mmseg scope, one image per batch: the
# images of a benchmark differ in size). Children set test_dataloader.dataset and test_evaluator.
default_scope = 'mmseg'
custom_imports = dict(imports=['mmdistill'], allow_failed_imports=False)

test_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False))
test_cfg = dict(type='TestLoop')

env_cfg = dict(cudnn_benchmark=False, mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
               dist_cfg=dict(backend='nccl'))
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50),
    visualization=dict(type='SegVisualizationHook'))
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='SegLocalVisualizer', vis_backends=vis_backends, name='visualizer')
log_processor = dict(by_epoch=False)
log_level = 'INFO'
load_from = None
resume = False
