# SILC (paper 002, this project's reading of its abstract) as fine-tuning of the world's tiny CLIP:
# per image 2 global crops (area 0.4-1.0, at the native 96 px) and 8 local crops (0.05-0.4, 48 px).
#   local-to-global: the student's DINO head on each local crop <- the EMA teacher's head on each global
#                    crop of the same image (centred, sharpened; cross-entropy)
#   image-text:      the student's embedding of each global crop <- its caption (CLIP softmax), text frozen
# The EMA teacher averages the student's tower and head (fixed momentum 0.004, i.e. DINO's 0.996).
_base_ = ['../_base_/distill/synthetic_world_distill.py']

prototypes = 1024
model = dict(
    type='Distiller',
    student=dict(type='CLIPTower', arch={{_base_.arch}}, checkpoint={{_base_.clip_checkpoint}},
                 trainable='blocks'),
    heads=dict(head=dict(type='DINOHead', out_dim=prototypes, hidden_dim=512, bottleneck_dim=128)),
    # frozen: the evaluation classifies with the original text tower
    text_tower=dict(type='CLIPTextTower', arch={{_base_.arch}}, checkpoint={{_base_.clip_checkpoint}},
                    trainable=False),
    teachers=dict(ema=dict(type='EMATeacher', momentum=0.004)),
    views=dict(type='MultiCrop', num_global=2, num_local=8, global_scale=(0.4, 1.0), local_scale=(0.05, 0.4),
               global_size=None, local_size=48),
    terms=[
        dict(name='dino', type='DINOLoss', loss_weight=1.0, out_dim=prototypes, tau_s=0.1, tau_t=0.04,
             center_momentum=0.9, student='student.local.head', teacher='ema.global.head',
             student_source='view.local.source', teacher_source='view.global.source'),
        # the tiny CLIP's learnt scale (exp of its logit_scale)
        dict(name='image_text', type='ImageTextContrastiveLoss', loss_weight=1.0, kind='softmax',
             logit_scale=18.56, image='student.global.cls', text='student.captions.text'),
    ],
    data_preprocessor={{_base_.data_preprocessor}})

train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='CocoCaptionDataset',
        data_root={{_base_.data_root}},
        ann_file='annotations/captions_train2017.json',
        data_prefix=dict(img_path='train2017'),
        pipeline={{_base_.caption_train_pipeline}}))
# the EMA teacher follows the student after each optimiser step
custom_hooks = [dict(type='LossGuardHook'), dict(type='TeacherUpdateHook')]
