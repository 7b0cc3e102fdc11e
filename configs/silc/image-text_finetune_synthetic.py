# The baseline of SILC fine-tuning on the synthetic world: the tiny CLIP's image-text pretraining
# (configs/quickstart/tiny_clip_pretrain_synthetic.py) continued from its checkpoint for 200 more steps of 128
# pairs, with a fresh warm-up and cosine schedule at a quarter of its peak rate. configs/silc/
# silc-whole-image_finetune_synthetic.py adds SILC's local-to-global term and nothing else, so the two towers
# differ only by that term (the main job's SILC rows).
_base_ = ['../quickstart/tiny_clip_pretrain_synthetic.py']

max_iters = 200
model = dict(checkpoint='work_dirs/quickstart/tiny_clip.pt')
train_cfg = dict(max_iters=max_iters)
optim_wrapper = dict(optimizer=dict(lr=5e-4))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=20),
    dict(type='CosineAnnealingLR', T_max=max_iters - 20, eta_min=1e-5, by_epoch=False, begin=20, end=max_iters),
]
default_hooks = dict(checkpoint=dict(interval=max_iters))
