# CLIPSelf ("patches" mode) on the synthetic world: student regions (RoIAlign on the
# dense map) <- frozen teacher's image embedding of each grid cell cropped alone.
_base_ = ['../_base_/distill/synthetic_world_distill.py']

model = dict(
    type='Distiller',
    student=dict(type='CLIPTower', arch={{_base_.arch}}, checkpoint={{_base_.clip_checkpoint}},
                 trainable='blocks'),
    teachers=dict(frozen=dict(type='FrozenTeacher')),
    views=dict(type='GridPatches', max_split=6, max_cells=20),
    terms=[dict(name='clipself', type='RegionToCLSLoss', loss_weight=1.0,
                student='student.image.regions', teacher='frozen.crops.cls')],
    student_size={{_base_.student_size}},
    data_preprocessor={{_base_.data_preprocessor}})
