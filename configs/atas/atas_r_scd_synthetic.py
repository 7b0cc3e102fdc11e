# ATAS + R-SCD on the synthetic world: a combination that is a config, not code. The mosaic terms of
# ATAS plus SCD on grid boxes of the whole image (the student image of CLIPSelf), whose teacher
# correlation comes from the Refiner of configs/refiner/refiner_synthetic.py. The frozen teacher and
# the Refiner read one shared copy of the initial tower ('clip').
# Paths: MMDISTILL_WORLD / MMDISTILL_TINY_CLIP / MMDISTILL_REFINER (the Refiner's last checkpoint) name this run's
# files (the main job sets them); the defaults are the main job's world and tiny CLIP.
_base_ = ['./atas_synthetic.py']

refiner_checkpoint = '{{$MMDISTILL_REFINER:work_dirs/quickstart/refiner/iter_200.pth}}'
model = dict(
    towers=dict(clip=dict(type='CLIPTower', arch={{_base_.arch}}, checkpoint={{_base_.clip_checkpoint}},
                          trainable='none')),
    teachers=dict(
        frozen=dict(type='FrozenTeacher', tower='clip'),
        refined=dict(type='RefinerTeacher', checkpoint=refiner_checkpoint, prefix='student.',
                     refiner=dict(type='Refiner', tower='clip', depth=2, inter_layers=(1, 2), hidden_dim=512))),
    views=[dict(type='Mosaic', k=2, tile_size=96, scale=(0.5, 1.0)),
           dict(type='GridPatches', max_split=6, max_cells=20)],
    terms=[
        dict(name='g2l', type='RegionToCLSLoss', loss_weight=1.0,
             student='student.mosaic.regions', teacher='frozen.tiles.cls'),
        dict(name='l2l', type='TokenContrastiveLoss', loss_weight=0.1, mode='infonce', normalize=True, tau=0.1,
             pred='student.mosaic.region_tokens', target='frozen.tiles.grid_tokens'),
        dict(name='g2g', type='RegionToCLSLoss', loss_weight=1.0,
             student='student.full.cls', teacher='frozen.full.cls'),
        dict(name='scd', type='SpatialCorrelationLoss', loss_weight=0.2, tau_s=0.2, tau_t=0.2,
             student='student.image.region_tokens', teacher='refined.image.region_tokens'),
    ],
    student_size={{_base_.student_size}})
