# SC-CLIPSelf at real scale: CLIPSelf (proposals) + SCD from the frozen teacher, lambda 0.2 (ViT-B),
# tau_s = tau_t = 0.2; lr 2e-5, 6 epochs (paper 001 Sec. 4.1).
_base_ = ['../clipself/clipself_eva02_b16_coco_proposals.py']

model = dict(
    token_size=7,
    terms=[
        dict(name='clipself', type='RegionToCLSLoss', loss_weight=1.0,
             student='student.image.regions', teacher='frozen.crops.cls'),
        dict(name='scd', type='SpatialCorrelationLoss', loss_weight=0.2, tau_s=0.2, tau_t=0.2,
             student='student.image.region_tokens', teacher='frozen.image.region_tokens'),
    ])
optim_wrapper = dict(optimizer=dict(lr=2e-5))  # paper 001 Sec. 4.1
# paper 001 Sec. 4.1: "batch size as 4" on 8 GPUs = 4 per GPU, 32 per step (reasoning in the base config)
train_dataloader = dict(batch_size=4)
auto_scale_lr = dict(base_batch_size=32)
