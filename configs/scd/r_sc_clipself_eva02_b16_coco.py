# R-SC-CLIPSelf at real scale: CLIPSelf (proposals) + R-SCD from the Refiner of stage 1
# (configs/refiner/refiner_eva02_b16_coco.py), lambda 0.2, tau 0.2, lr 2e-5, 6 epochs.
_base_ = ['./sc_clipself_eva02_b16_coco.py']

refiner_checkpoint = 'work_dirs/refiner_eva02_b16_coco/epoch_4.pth'
refiner_tower = dict(type='CLIPTower', arch={{_base_.arch}}, checkpoint={{_base_.clip_checkpoint}},
                     trainable='none')
model = dict(
    teachers=dict(
        refined=dict(type='RefinerTeacher', checkpoint=refiner_checkpoint, prefix='student.',
                     refiner=dict(type='Refiner', tower=refiner_tower, depth=4, inter_layers=(4, 7),
                                  hidden_dim=4096))),
    terms=[
        dict(name='clipself', type='RegionToCLSLoss', loss_weight=1.0,
             student='student.image.regions', teacher='frozen.crops.cls'),
        dict(name='scd', type='SpatialCorrelationLoss', loss_weight=0.2, tau_s=0.2, tau_t=0.2,
             student='student.image.region_tokens', teacher='refined.image.region_tokens'),
    ])
