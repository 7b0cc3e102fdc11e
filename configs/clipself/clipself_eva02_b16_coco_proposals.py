# CLIPSelf, "proposals" mode: RPN proposals (trained on the 48 OV-COCO base classes,
# configs/rpn/rpn_r50_fpn_1x_coco_base.py + tools/misc/rpn_proposals.py), area 8^2..1024^2,
# at most 20 per image, teacher crops expanded 1.5x.
# No validation loop: export the student, then configs/dense_zero_shot/eva02_b16_coco_panoptic_1024.py
# --cfg-options model.tower.checkpoint=<export> (docs/distiller.md).
_base_ = ['./clipself_eva02_b16_coco_patches.py']

train_dataloader = dict(dataset=dict(proposal_file='proposals/rpn_coco_base_train2017.json'))
model = dict(views=dict(_delete_=True, type='ProposalBoxes', max_num=20, min_area=8 ** 2, max_area=1024 ** 2,
                        crop_expand=1.5))
