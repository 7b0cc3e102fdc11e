# R-SC-RegionText at real scale: RegionText + R-SCD (lambda 0.2) from the stage-1 Refiner.
_base_ = ['./regiontext_eva02_b16_coco.py']

refiner_checkpoint = 'work_dirs/refiner_eva02_b16_coco/epoch_4.pth'
refiner_tower = dict(type='CLIPTower', arch={{_base_.arch}}, checkpoint={{_base_.clip_checkpoint}},
                     trainable='none')
model = dict(
    token_size=7,
    teachers=dict(
        refined=dict(type='RefinerTeacher', checkpoint=refiner_checkpoint, prefix='student.',
                     refiner=dict(type='Refiner', tower=refiner_tower, depth=4, inter_layers=(4, 7),
                                  hidden_dim=4096))),
    terms=[
        dict(name='regiontext', type='RegionToTextLoss', loss_weight=1.0, tau=0.01, min_score=0.1,
             student='student.image.regions', teacher='frozen.crops.cls', text='text'),
        dict(name='scd', type='SpatialCorrelationLoss', loss_weight=0.2, tau_s=0.2, tau_t=0.2,
             student='student.image.region_tokens', teacher='refined.image.region_tokens'),
    ])
