# R-SC-V at real scale: R-SCD alone (no region-language alignment; paper 001 Sec. 3.4 / 4.4).
_base_ = ['./r_sc_clipself_eva02_b16_coco.py']

model = dict(
    teachers=dict(_delete_=True, refined={{_base_.model.teachers.refined}}),
    terms=[dict(name='scd', type='SpatialCorrelationLoss', loss_weight=1.0, tau_s=0.2, tau_t=0.2,
                student='student.image.region_tokens', teacher='refined.image.region_tokens')])
