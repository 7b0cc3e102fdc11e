# SILC (paper 002) as fine-tuning of the world's tiny CLIP: its image-text pretraining continued for 200 steps of
# 128 pairs (both towers train, from the tiny CLIP's checkpoint) with SILC's local-to-global self-distillation
# added: the student's DINO head on 4 local crops (0.05-0.4 of the image at 48 px) <- the EMA teacher's head on
# the whole image, which the image-text loss reads too. Against configs/silc/image-text_finetune_synthetic.py
# (the same steps, data, optimiser and schedule without the term) the term is the only difference.
_base_ = ['./silc-whole-image_pretrain_synthetic.py']

max_iters = 200
clip_checkpoint = 'work_dirs/quickstart/tiny_clip.pt'
model = dict(
    student=dict(checkpoint=clip_checkpoint),
    text_tower=dict(checkpoint=clip_checkpoint),
    # the tiny CLIP's learnt scale (exp of its logit_scale), as the baseline's pretrainer starts from
    terms=[dict(name='dino', type='DINOLoss', loss_weight=1.0, out_dim={{_base_.prototypes}}, tau_s=0.1, tau_t=0.04,
                center_momentum=0.9, student='student.local.head', teacher='ema.global.head',
                student_source='view.local.source', teacher_source='view.global.source'),
           dict(name='image_text', type='ImageTextContrastiveLoss', loss_weight=1.0, kind='softmax',
                logit_scale=18.56, image='student.global.cls', text='student.captions.text')])
train_cfg = dict(max_iters=max_iters)
optim_wrapper = dict(optimizer=dict(lr=5e-4))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=20),
    dict(type='CosineAnnealingLR', T_max=max_iters - 20, eta_min=1e-5, by_epoch=False, begin=20, end=max_iters),
]
default_hooks = dict(checkpoint=dict(interval=max_iters))
