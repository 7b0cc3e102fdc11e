# F-ViT, EVA02-CLIP-L/14-336 frozen, OV-LVIS, 896 px, 48 epochs, 8 GPUs x 8, mask head; beta 0.4.
_base_ = ['./fvit_eva02-b16_fpn_8xb8-48e_ov-lvis-1024.py']

arch = 'EVA02-L-14-336'
clip_checkpoint = 'checkpoints/EVA02_CLIP_L_336_psz14_s6B.pt'
tower_checkpoint = clip_checkpoint
image_size = (896, 896)

model = dict(
    data_preprocessor=dict(pad_size_divisor=896),  # padded to 896 x 896 (official Pad(size=image_size))
    backbone=dict(tower=dict(arch=arch, checkpoint=tower_checkpoint), out_indices=(6, 10, 14, 23)),
    neck=dict(in_channels=[1024] * 4),
    rpn_head=dict(anchor_generator=dict(strides=[3.5, 7, 14, 28, 56])),
    roi_head=dict(
        bbox_roi_extractor=dict(featmap_strides=[3.5, 7, 14, 28]),
        mask_roi_extractor=dict(featmap_strides=[3.5, 7, 14, 28]),
        bbox_head=dict(fc_out_channels=768, vocabulary=dict(text=dict(arch=arch, checkpoint=clip_checkpoint)),
                       ensemble=dict(beta=0.4))))
train_dataloader = dict(dataset=dict(pipeline=[
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='RandomResize', scale=image_size, ratio_range=(0.1, 2.0), keep_ratio=True),
    dict(type='RandomCrop', crop_type='absolute_range', crop_size=image_size, recompute_bbox=True,
         allow_negative_crop=True),
    dict(type='FilterAnnotations', min_gt_bbox_wh=(1e-2, 1e-2)),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs'),
]))
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=image_size, keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='PackDetInputs', meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor')),
]
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
