# The photometric SILC fine-tuning (silc_finetune_photometric_synthetic.py) without the draws that change
# colours: no hue jitter, no grayscale, no solarisation (brightness, contrast and saturation jitter and blur
# kept). The world's thing classes are named by their colour ("red circle"), so the colour draws contradict
# the captions the image-text loss pairs the views with (docs/benchmarks.md, "ATAS and SILC").
_base_ = ['./silc_finetune_photometric_synthetic.py']

train_dataloader = dict(dataset=dict(pipeline=[
    dict(type='LoadImageFromFileCached'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='RandomCaption'),
    dict(type='PhotometricViews', num_views={{_base_.num_crops}}, jitter=0.8, hue=0.0, grayscale=0.0,
         blur=[1.0, 0.1] + [0.5] * 8, solarize=0.0),
    dict(type='PackImageText'),
]))
