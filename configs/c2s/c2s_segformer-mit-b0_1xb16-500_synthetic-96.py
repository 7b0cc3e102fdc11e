# C2S on the synthetic world in the main job's budget: configs/c2s/c2s_segformer-mit-b0_1xb16-1k_synthetic-96.py
# with half the steps (500 of 16 images; warm-up and poly decay over the shorter run). C2S at step 500 of the
# 1k run was already at 35.9 of its final 38.2 uIoU (docs/benchmarks.md).
_base_ = ['./c2s_segformer-mit-b0_1xb16-1k_synthetic-96.py']

max_iters = 500
warmup_iters = 50
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=False, begin=0, end=warmup_iters),
    dict(type='PolyLR', eta_min=0.0, power=1.0, by_epoch=False, begin=warmup_iters, end=max_iters),
]
default_hooks = dict(checkpoint=dict(interval=250))
