# Stage 1 of R-SCD on the synthetic world: train the Refiner global-to-local (paper 001,
# Sec. 3.3, App. C). The Refiner reads the frozen tower's early tokens of the WHOLE image,
# pools each random crop (C=4, scale 0.3-0.7) and refines it; the target is the frozen
# CLIP's dense tokens of the same crop encoded alone (token InfoNCE, Eq. 13).
_base_ = ['../_base_/distill/synthetic_world_distill.py']

tower = dict(type='CLIPTower', arch={{_base_.arch}}, checkpoint={{_base_.clip_checkpoint}}, trainable='none')
model = dict(
    type='Distiller',
    # 4-block tower: the last 2 blocks are cloned; FC_Inter reads layers 1 and 2 (1-indexed).
    student=dict(type='Refiner', tower=tower, depth=2, inter_layers=(1, 2), hidden_dim=512),
    teachers=dict(frozen=dict(type='FrozenTeacher', tower=tower)),
    views=dict(type='RandomCrops', num=4, scale=(0.3, 0.7)),
    terms=[dict(name='refine', type='TokenContrastiveLoss', mode='infonce', normalize=True, tau=0.1,
                pred='student.image.region_tokens', target='frozen.stretched.grid_tokens')],
    student_size={{_base_.student_size}},
    token_size=8,  # the crop's own 8 x 8 grid at the tower's native 96 px
    data_preprocessor={{_base_.data_preprocessor}})

batch_size = 16
train_dataloader = dict(batch_size=batch_size)
optim_wrapper = dict(optimizer=dict(lr=5e-4))
