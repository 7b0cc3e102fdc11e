# SILC pretraining from scratch on the synthetic world, against the tiny CLIP of
# configs/quickstart/tiny_clip_pretrain_synthetic.py: the same architecture, data (image-caption pairs),
# steps (800 x 128), optimiser and schedule; both towers start from random weights and train.
# The image-text loss reads the 2 global crops (0.4-1.0 at 96 px), the DINO loss the 8 local crops
# (0.05-0.4 at 48 px) against the EMA teacher's global crops.
_base_ = ['../quickstart/tiny_clip_pretrain_synthetic.py']

prototypes = 1024
model = dict(
    _delete_=True,
    type='Distiller',
    student=dict(type='CLIPTower', arch={{_base_.arch}}, checkpoint=None, trainable='all'),
    heads=dict(head=dict(type='DINOHead', out_dim=prototypes, hidden_dim=512, bottleneck_dim=128)),
    text_tower=dict(type='CLIPTextTower', arch={{_base_.arch}}, checkpoint=None, trainable=True),
    teachers=dict(ema=dict(type='EMATeacher', momentum=0.004)),
    views=dict(type='MultiCrop', num_global=2, num_local=8, global_scale=(0.4, 1.0), local_scale=(0.05, 0.4),
               global_size=None, local_size=48, flip=0.0),  # the pipeline already flips
    terms=[
        dict(name='dino', type='DINOLoss', loss_weight=1.0, out_dim=prototypes, tau_s=0.1, tau_t=0.04,
             center_momentum=0.9, student='student.local.head', teacher='ema.global.head',
             student_source='view.local.source', teacher_source='view.global.source'),
        dict(name='image_text', type='ImageTextContrastiveLoss', loss_weight=1.0, kind='softmax',
             logit_scale=1 / 0.07, image='student.global.cls', text='student.captions.text'),
    ],
    data_preprocessor=dict(
        type='ImgDataPreprocessor', mean={{_base_.clip_mean}}, std={{_base_.clip_std}}, bgr_to_rgb=True))
optim_wrapper = dict(paramwise_cfg=dict(custom_keys={'log_scale': dict(decay_mult=0.0)}))
# the EMA teacher follows the student after each step (the base's EMAHook averages the exported weights)
custom_hooks = [dict(type='EMAHook', momentum=0.01), dict(type='LossGuardHook'), dict(type='TeacherUpdateHook')]
