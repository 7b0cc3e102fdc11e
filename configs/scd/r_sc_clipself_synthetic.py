# R-SC-CLIPSelf on the synthetic world (paper 001, Sec. 3.4): CLIPSelf + SCD whose teacher
# correlation comes from the trained Refiner (stage 1: configs/refiner/refiner_synthetic.py).
# The Refiner never enters the region-language (CLIPSelf) branch.
# Paths: MMDISTILL_WORLD / MMDISTILL_TINY_CLIP / MMDISTILL_REFINER (the Refiner's last checkpoint) name this run's
# files (the main job sets them); the defaults are the main job's world and tiny CLIP.
_base_ = ['../clipself/clipself_patches_synthetic.py']

refiner_checkpoint = '{{$MMDISTILL_REFINER:work_dirs/quickstart/refiner/iter_200.pth}}'
refiner_tower = dict(type='CLIPTower', arch={{_base_.arch}}, checkpoint={{_base_.clip_checkpoint}},
                     trainable='none')
model = dict(
    token_size=4,
    teachers=dict(
        frozen=dict(type='FrozenTeacher'),
        refined=dict(type='RefinerTeacher', checkpoint=refiner_checkpoint, prefix='student.',
                     refiner=dict(type='Refiner', tower=refiner_tower, depth=2, inter_layers=(1, 2),
                                  hidden_dim=512))),
    terms=[
        dict(name='clipself', type='RegionToCLSLoss', loss_weight=1.0,
             student='student.image.regions', teacher='frozen.crops.cls'),
        dict(name='scd', type='SpatialCorrelationLoss', loss_weight=0.2, tau_s=0.2, tau_t=0.2,
             student='student.image.region_tokens', teacher='refined.image.region_tokens'),
    ])
