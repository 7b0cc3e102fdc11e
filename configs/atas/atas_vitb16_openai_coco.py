# ATAS with OpenAI CLIP ViT-B/16 (checkpoints/ViT-B-16.pt, OpenAI's release or its open_clip state dict).
# No validation loop: export the student, then configs/dense_zero_shot/eva02_b16_coco_panoptic_1024.py with
# --cfg-options model.tower.arch=ViT-B-16-quickgelu model.tower.checkpoint=<export>
# model.text.arch=ViT-B-16-quickgelu model.text.checkpoint=checkpoints/ViT-B-16.pt (docs/distiller.md).
_base_ = ['./atas_eva02_b16_coco.py']

arch = 'ViT-B-16-quickgelu'  # OpenAI's weights were trained with QuickGELU
clip_checkpoint = 'checkpoints/ViT-B-16.pt'
model = dict(student=dict(arch=arch, checkpoint=clip_checkpoint))
