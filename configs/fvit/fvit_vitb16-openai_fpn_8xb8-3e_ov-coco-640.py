# F-ViT, OpenAI CLIP ViT-B/16 frozen (checkpoints/ViT-B-16.pt), OV-COCO, 640 px, 3 epochs, 8 GPUs x 8.
_base_ = ['./fvit_eva02-b16_fpn_8xb8-3e_ov-coco-640.py']

arch = 'ViT-B-16-quickgelu'  # OpenAI's weights were trained with QuickGELU (plain 'ViT-B-16' would run GELU)
clip_checkpoint = 'checkpoints/ViT-B-16.pt'
tower_checkpoint = clip_checkpoint

model = dict(
    backbone=dict(tower=dict(arch=arch, checkpoint=tower_checkpoint)),
    roi_head=dict(bbox_head=dict(vocabulary=dict(text=dict(arch=arch, checkpoint=clip_checkpoint)))))
