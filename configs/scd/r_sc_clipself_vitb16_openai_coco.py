# R-SC-CLIPSelf with OpenAI CLIP ViT-B/16 at 1024 (checkpoints/ViT-B-16.pt, OpenAI's release or its
# open_clip state dict). Stage 1: the refiner config with arch / checkpoint overridden the same way.
# No validation loop: export the student, then configs/dense_zero_shot/eva02_b16_coco_panoptic_1024.py with
# --cfg-options model.tower.arch=ViT-B-16-quickgelu model.tower.checkpoint=<export>
# model.text.arch=ViT-B-16-quickgelu model.text.checkpoint=checkpoints/ViT-B-16.pt (docs/distiller.md).
_base_ = ['./r_sc_clipself_eva02_b16_coco.py']

arch = 'ViT-B-16-quickgelu'  # OpenAI's weights were trained with QuickGELU (plain 'ViT-B-16' would run GELU)
clip_checkpoint = 'checkpoints/ViT-B-16.pt'
refiner_checkpoint = 'work_dirs/refiner_vitb16_openai_coco/epoch_4.pth'
tower = dict(type='CLIPTower', arch=arch, checkpoint=clip_checkpoint, trainable='none')
model = dict(
    student=dict(arch=arch, checkpoint=clip_checkpoint),
    teachers=dict(refined=dict(checkpoint=refiner_checkpoint, refiner=dict(tower=tower))))
