# F-ViT on OV-LVIS: 48 epochs, lr steps at 32 and 44, AdamW 1e-4, wd 0.1, grad clip 1.0, fp16, 64 images per step.
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=48, val_interval=4)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
optim_wrapper = dict(
    type='AmpOptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-4, betas=(0.9, 0.999), weight_decay=0.1),
    paramwise_cfg=dict(custom_keys={'temperature': dict(decay_mult=0.0)}),
    clip_grad=dict(max_norm=1.0, norm_type=2))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=250),
    dict(type='MultiStepLR', by_epoch=True, milestones=[32, 44], gamma=0.1),
]
auto_scale_lr = dict(enable=False, base_batch_size=64)
