# SILC (paper 002, this project's reading of its abstract) as midstream fine-tuning of EVA02-CLIP-B/16
# on COCO captions (data/coco/annotations/captions_train2017.json): 2 global crops (0.4-1.0) at 224 px
# and 8 local crops (0.05-0.4) at 96 px per image; DINO head (65 536 prototypes, DINO's sizes) on the
# image embedding; EMA teacher with fixed momentum 0.004; CLIP softmax image-text loss on each global
# crop with its caption, the text tower trainable (set text_tower.trainable=False to freeze it).
# Each crop is cut from its own photometric draw of the image (PhotometricViews: DINO's colour jitter,
# grayscale, blur and solarisation probabilities; the crop geometry stays MultiCrop's).
# 8 GPUs: bash tools/dist_train.sh CONFIG 8
_base_ = ['../_base_/distill/coco_distill_eva02_b16.py']

prototypes = 65536
batch_size = 32  # per GPU; x 8 GPUs = 256 image-caption pairs per step
model = dict(
    type='Distiller',
    student=dict(type='CLIPTower', arch={{_base_.arch}}, checkpoint={{_base_.clip_checkpoint}}, trainable='all'),
    heads=dict(head=dict(type='DINOHead', out_dim=prototypes, hidden_dim=2048, bottleneck_dim=256)),
    text_tower=dict(type='CLIPTextTower', arch={{_base_.arch}}, checkpoint={{_base_.clip_checkpoint}},
                    trainable=True),
    teachers=dict(ema=dict(type='EMATeacher', momentum=0.004)),
    views=dict(type='MultiCrop', num_global=2, num_local=8, global_scale=(0.4, 1.0), local_scale=(0.05, 0.4),
               global_size=None, local_size=96),
    terms=[
        dict(name='dino', type='DINOLoss', loss_weight=1.0, out_dim=prototypes, tau_s=0.1, tau_t=0.04,
             center_momentum=0.9, student='student.local.head', teacher='ema.global.head',
             student_source='view.local.source', teacher_source='view.global.source'),
        dict(name='image_text', type='ImageTextContrastiveLoss', loss_weight=1.0, kind='softmax',
             logit_scale=100.0, image='student.global.cls', text='student.captions.text'),
    ],
    data_preprocessor=dict(type='MultiViewDataPreprocessor', mean={{_base_.clip_mean}}, std={{_base_.clip_std}},
                           bgr_to_rgb=True))

train_dataloader = dict(
    batch_size=batch_size,
    dataset=dict(
        _delete_=True,
        type='CocoCaptionDataset',
        data_root={{_base_.data_root}},
        ann_file='annotations/captions_train2017.json',
        data_prefix=dict(img_path='train2017'),
        pipeline=[
            dict(type='LoadImageFromFile'),
            dict(type='RandomCaption'),
            dict(type='PhotometricViews', num_views=2 + 8, jitter=0.8, grayscale=0.2,
                 blur=[1.0, 0.1] + [0.5] * 8, solarize=[0.0, 0.2] + [0.0] * 8),
            dict(type='PackImageText', meta_keys=('img_id', 'img_path', 'img_shape', 'ori_shape', 'caption')),
        ]))
# the heads start from scratch at 10x the tower's learning rate
optim_wrapper = dict(paramwise_cfg=dict(custom_keys={'heads.': dict(lr_mult=10.0)}))
auto_scale_lr = dict(enable=False, base_batch_size=256)
# the EMA teacher follows the student after each optimiser step
custom_hooks = [dict(type='LossGuardHook'), dict(type='TeacherUpdateHook')]
