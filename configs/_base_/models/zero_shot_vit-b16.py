# Training-free zero-shot segmentation (ZeroShotSegmentor) with OpenAI's CLIP ViT-B/16: the dense map of the
# value path (MaskCLIP; SCLIP / ClearCLIP / NACLIP via tower.dense_path) against text embeddings of CLIP's
# 80 ImageNet templates, 224 px windows every 112 px. The benchmark protocol is SCLIP's (github wangf3014/SCLIP:
# clip_segmentor.py, configs/cfg_*.py, configs/cls_*.txt): its class-name files, logit scale 40 unless a benchmark
# sets another, background threshold 0.1 on the benchmarks with a background class. NACLIP's differences (logit
# scale 40 everywhere, PAMR post-processing): docs/protocols.md. Benchmark configs set the vocabulary's classes
# (label order of their dataset), the logit scale and the background threshold.
arch = 'ViT-B-16-quickgelu'  # OpenAI's weights were trained with QuickGELU (plain 'ViT-B-16' would run GELU)
clip_checkpoint = 'checkpoints/ViT-B-16.pt'

model = dict(
    type='ZeroShotSegmentor',
    # positions resized as SCLIP / ClearCLIP / NACLIP do (bicubic, no antialias, scale factor (grid + 0.1) / 14:
    # their clip/model.py interpolate_pos_encoding); only windows or images off the native 224 px use it
    tower=dict(type='CLIPTower', arch=arch, checkpoint=clip_checkpoint, dense_path='value',
               pos_embed_resize='bicubic_offset'),
    vocabulary=dict(templates='imagenet80', text=dict(arch=arch, checkpoint=clip_checkpoint)),
    logit_scale=40.0,  # SCLIP's CLIPForSegmentation default (logit_scale=40); NACLIP: 40 everywhere
    background_threshold=None,
    test_cfg=dict(mode='slide', crop_size=(224, 224), stride=(112, 112)),
    data_preprocessor=dict(
        type='SegDataPreProcessor',
        mean=[122.7709383, 116.7460125, 104.09373615],
        std=[68.5005327, 66.6321579, 70.32316305],
        bgr_to_rgb=True))
