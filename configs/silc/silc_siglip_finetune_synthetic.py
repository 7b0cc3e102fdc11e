# SILC fine-tuning on the synthetic world with SigLIP's sigmoid image-text loss (learnt scale and bias,
# SigLIP's initial 10 and -10) and a trainable text tower.
_base_ = ['./silc_finetune_synthetic.py']

model = dict(
    text_tower=dict(trainable=True),
    terms=[
        dict(name='dino', type='DINOLoss', loss_weight=1.0, out_dim={{_base_.prototypes}}, tau_s=0.1, tau_t=0.04,
             center_momentum=0.9, student='student.local.head', teacher='ema.global.head',
             student_source='view.local.source', teacher_source='view.global.source'),
        dict(name='image_text', type='ImageTextContrastiveLoss', loss_weight=1.0, kind='sigmoid',
             logit_scale=10.0, logit_bias=-10.0, image='student.global.cls', text='student.captions.text'),
    ])
