# CLIPSelf, "patches" mode, EVA02-CLIP-B/16 at 1024 on COCO train2017 (6 epochs, lr 1e-5, 16 images/step).
# Export + ensemble (alpha 0.7) afterwards: see docs/methods/clipself.md.
_base_ = ['../_base_/distill/coco_distill_eva02_b16.py']

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
