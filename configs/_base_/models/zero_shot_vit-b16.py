# Training-free zero-shot segmentation (ZeroShotSegmentor) with OpenAI's CLIP ViT-B/16: the dense map of the
# value path (MaskCLIP; SCLIP / ClearCLIP / NACLIP via tower.dense_path) against text embeddings of CLIP's
# 80 ImageNet templates, logit scale 50, 224 px windows every 112 px. Benchmark configs set the vocabulary's
# classes (label order of their dataset) and the background threshold.
arch = 'ViT-B-16-quickgelu'  # OpenAI's weights were trained with QuickGELU (plain 'ViT-B-16' would run GELU)
clip_checkpoint = 'checkpoints/ViT-B-16.pt'

model = dict(
    type='ZeroShotSegmentor',
    tower=dict(type='CLIPTower', arch=arch, checkpoint=clip_checkpoint, dense_path='value'),
    vocabulary=dict(text=dict(arch=arch, checkpoint=clip_checkpoint, templates='imagenet80')),
    logit_scale=50.0,
    background_threshold=None,
    test_cfg=dict(mode='slide', crop_size=(224, 224), stride=(112, 112)),
    data_preprocessor=dict(
        type='SegDataPreProcessor',
        mean=[122.7709383, 116.7460125, 104.09373615],
        std=[68.5005327, 66.6321579, 70.32316305],
        bgr_to_rgb=True))
