# R-SC-RegionText on the synthetic world: RegionText + R-SCD (lambda 0.2) from the trained Refiner.
_base_ = ['./regiontext_synthetic.py']

refiner_checkpoint = '{{$MMDISTILL_REFINER:work_dirs/quickstart/refiner/iter_200.pth}}'
refiner_tower = dict(type='CLIPTower', arch={{_base_.arch}}, checkpoint={{_base_.clip_checkpoint}},
                     trainable='none')
model = dict(
    token_size=4,
    teachers=dict(
        refined=dict(type='RefinerTeacher', checkpoint=refiner_checkpoint, prefix='student.',
                     refiner=dict(type='Refiner', tower=refiner_tower, depth=2, inter_layers=(1, 2),
                                  hidden_dim=512))),
    terms=[
        dict(name='regiontext', type='RegionToTextLoss', loss_weight=1.0, tau=0.01, min_score=0.1,
             student='student.image.regions', teacher='frozen.crops.cls', text='text'),
        dict(name='scd', type='SpatialCorrelationLoss', loss_weight=0.2, tau_s=0.2, tau_t=0.2,
             student='student.image.region_tokens', teacher='refined.image.region_tokens'),
    ])
