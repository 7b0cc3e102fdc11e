# SC-CLIPSelf on the synthetic world: CLIPSelf + spatial correlation distillation (Eq. 2-6)
# from the frozen teacher's dense map over the same boxes (lambda 0.2, tau_s = tau_t = 0.2).
_base_ = ['../clipself/clipself_patches_synthetic.py']

model = dict(
    token_size=4,
    terms=[
        dict(name='clipself', type='RegionToCLSLoss', loss_weight=1.0,
             student='student.image.regions', teacher='frozen.crops.cls'),
        dict(name='scd', type='SpatialCorrelationLoss', loss_weight=0.2, tau_s=0.2, tau_t=0.2,
             student='student.image.region_tokens', teacher='frozen.image.region_tokens'),
    ])
