# F-ViT, EVA02-CLIP-B/16 frozen, OV-COCO, 640 px, 3 epochs, 8 GPUs x 8 images (paper 001 Table 3; CLIPSelf).
# The image tower is chosen by path (base, distilled, ensembled or exported open_clip checkpoint); the text
# tower stays the original CLIP:
#   bash tools/dist_train.sh configs/fvit/fvit_eva02-b16_fpn_8xb8-3e_ov-coco-640.py 8 \
#       --cfg-options model.backbone.tower.checkpoint=work_dirs/r_sc_clipself_eva02_b16_coco/exported.pt
_base_ = ['../_base_/models/fvit_vit_fpn.py', '../_base_/datasets/ov_coco_detection.py',
          '../_base_/schedules/fvit_ov_coco_3e.py', '../_base_/fvit_runtime.py']

arch = 'EVA02-B-16'
clip_checkpoint = 'checkpoints/EVA02_CLIP_B_psz16_s8B.pt'
tower_checkpoint = clip_checkpoint

model = dict(
    backbone=dict(tower=dict(arch=arch, checkpoint=tower_checkpoint), out_indices=(3, 5, 7, 11)),
    roi_head=dict(bbox_head=dict(
        fc_out_channels=512,
        vocabulary=dict(classes={{_base_.classes}}, base_classes={{_base_.split_file}},
                        templates='vild', text=dict(arch=arch, checkpoint=clip_checkpoint)),
        background_weight=0.6,
        ensemble=dict(alpha=0.1, beta=0.8, temperature=75.0))))
