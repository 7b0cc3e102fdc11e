# Stage 1 of R-SCD at real scale (paper 001 Sec. 4.1 / App. C): Refiner = the last 4 blocks of the
# frozen EVA02-CLIP-B/16, FC_Inter from layers 4 and 7, hidden 4096; C=4 random crops per image at
# scale 0.3-0.7; token InfoNCE (Eq. 13); AdamW lr 1e-4, 4 epochs, 16 images per GPU (see below).
_base_ = ['../_base_/distill/coco_distill_eva02_b16.py']

tower = dict(type='CLIPTower', arch={{_base_.arch}}, checkpoint={{_base_.clip_checkpoint}}, trainable='none')
model = dict(
    type='Distiller',
    student=dict(type='Refiner', tower=tower, depth=4, inter_layers=(4, 7), hidden_dim=4096),
    teachers=dict(frozen=dict(type='FrozenTeacher', tower=tower)),
    views=dict(type='RandomCrops', num=4, scale=(0.3, 0.7)),
    terms=[dict(name='refine', type='TokenContrastiveLoss', mode='infonce', normalize=True, tau=0.1,
                pred='student.image.region_tokens', target='frozen.stretched.grid_tokens')],
    student_size={{_base_.student_size}},
    token_size=14,  # the crop's own 14 x 14 grid at 224 px
    data_preprocessor={{_base_.data_preprocessor}})

max_epochs = 4  # paper 001 Sec. 4.1
train_cfg = dict(max_epochs=max_epochs)
# paper 001 Sec. 4.1: stage 1 "batch size as 16" on 8 GPUs, read per GPU as stage 2's "4" must be (see the
# base config): 16 x 8 = 128 images per step; only the Refiner's blocks and MLPs take gradients.
train_dataloader = dict(batch_size=16)
auto_scale_lr = dict(base_batch_size=128)
# lr 1e-4: paper 001 Sec. 4.1; weight decay 0.05 is not published (kept: the base's 0.1 is CLIPSelf's full-tower value)
optim_wrapper = dict(optimizer=dict(lr=1e-4, weight_decay=0.05))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=500),
    dict(type='CosineAnnealingLR', T_max=max_epochs, eta_min=0.0, by_epoch=True, begin=0, end=max_epochs,
         convert_to_iter_based=True),
]
