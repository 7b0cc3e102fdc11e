# Paper 003's ablation setting (Tables 3-6): C2S, SegFormer-B4, COCO-Stuff 156 / 15, 40k iterations.
_base_ = ['../c2s_segformer-mit-b4_8xb2-80k_coco-stuff156-15-512x512.py']

max_iters = 40000
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0, end=1500),
    dict(type='PolyLR', eta_min=0.0, power=1.0, by_epoch=False, begin=1500, end=max_iters),
]
