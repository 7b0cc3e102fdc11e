# R-SC-V on DINOv2 ViT-B/14 (paper 001 Sec. 4.4): R-SCD alone refines a vision-only tower.
# The DINOv2 tower is a timm ViT (`timm:` architectures); its dense map is the last block's normed
# tokens (dense_path='plain'). Weights: checkpoints/dinov2_vitb14_pretrain.pth (DINOv2 release).
# Stage 1: configs/refiner/refiner_eva02_b16_coco.py with the tower overridden to this one
# (arch=timm:vit_base_patch14_dinov2, dense_path=plain, token_size=16 for 224-px crops).
# No validation loop, and no text side for the dense zero-shot evaluator: export the tower and judge it downstream
# or with the dense-feature analyses (docs/distiller.md, docs/analysis.md).
_base_ = ['./r_sc_v_eva02_b16_coco.py']

arch = 'timm:vit_base_patch14_dinov2'
clip_checkpoint = 'checkpoints/dinov2_vitb14_pretrain.pth'
refiner_checkpoint = 'work_dirs/refiner_dinov2_vitb14_coco/epoch_4.pth'
tower = dict(type='CLIPTower', arch=arch, checkpoint=clip_checkpoint, trainable='none', dense_path='plain')
model = dict(
    student=dict(arch=arch, checkpoint=clip_checkpoint, dense_path='plain'),
    student_size=896,  # 64 x 64 grid with patch 14
    teachers=dict(refined=dict(checkpoint=refiner_checkpoint, refiner=dict(tower=tower))),
    # DINOv2 normalises with ImageNet statistics
    data_preprocessor=dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375]))
