# SILC fine-tuning on the synthetic world (silc_finetune_synthetic.py) with DINO's per-view photometric
# augmentation: each of the 10 crops of an image is cut from its own photometric draw of the image
# (colour jitter, grayscale, blur, solarisation; DINO's asymmetric probabilities: global crop 1 always
# blurred, global crop 2 rarely blurred and sometimes solarised, local crops blurred half the time).
# The crop geometry is the model's (MultiCrop), the same as without draws.
_base_ = ['./silc_finetune_synthetic.py']

num_crops = 2 + 8  # model.views: num_global + num_local
model = dict(data_preprocessor=dict(type='MultiViewDataPreprocessor'))
train_dataloader = dict(dataset=dict(pipeline=[
    dict(type='LoadImageFromFileCached'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='RandomCaption'),
    dict(type='PhotometricViews', num_views=num_crops, jitter=0.8, grayscale=0.2,
         blur=[1.0, 0.1] + [0.5] * 8, solarize=[0.0, 0.2] + [0.0] * 8),
    dict(type='PackImageText'),
]))
