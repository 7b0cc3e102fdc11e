# F-ViT on the synthetic world: the tiny CLIP (patch 12, width 128, 4 blocks) frozen, all four blocks read out
# (the last on the value path), pyramid strides 3 / 6 / 12 / 24 on 192 px inputs, a slim FPN and box head
# (32 channels: a step costs 0.34 s on 2 CPU cores, 0.67 s with 64).
# Train on the 18 base things, test on all 24 (novel / base / all AP50). The tower is chosen by path:
#   python tools/train.py configs/fvit/fvit_tinyclip-p12_fpn_1xb8-250it_ov-synthetic.py \
#       --cfg-options model.backbone.tower.checkpoint=work_dirs/quickstart/towers/<tower>.pt
_base_ = ['../_base_/models/fvit_vit_fpn.py', '../_base_/datasets/ov_synthetic_detection.py',
          '../_base_/fvit_runtime.py']

arch = 'mmdistill-world-ViT-P12'
clip_checkpoint = '{{$MMDISTILL_TINY_CLIP:work_dirs/quickstart/tiny_clip.pt}}'  # the text tower (and the base image tower)
tower_checkpoint = clip_checkpoint  # the image tower under evaluation: base, distilled or exported
max_iters = 250  # the main job's budget (docs/benchmarks.md)
norm_cfg = dict(type='BN', requires_grad=True)  # one process

model = dict(
    # the tiny CLIP was pretrained on CLIP's statistics; whole 24-px cells, no square padding (192-px world images)
    data_preprocessor=dict(mean=[122.7709383, 116.7460125, 104.09373615], std=[68.5005327, 66.6321579, 70.32316305],
                           pad_size_divisor=24),
    backbone=dict(tower=dict(arch=arch, checkpoint=tower_checkpoint), out_indices=(0, 1, 2, 3), norm_cfg=norm_cfg),
    neck=dict(in_channels=[128] * 4, out_channels=32, norm_cfg=norm_cfg),
    rpn_head=dict(in_channels=32, feat_channels=32,
                  anchor_generator=dict(scales=[4], strides=[3, 6, 12, 24, 48])),
    roi_head=dict(
        bbox_roi_extractor=dict(roi_layer=dict(use_torchvision=True), out_channels=32,
                                featmap_strides=[3, 6, 12, 24], finest_scale=42),
        bbox_head=dict(
            in_channels=32, conv_out_channels=32, fc_out_channels=128, norm_cfg=norm_cfg,
            vocabulary=dict(classes={{_base_.classes}}, base_classes={{_base_.split_file}},
                            templates=['a photo of {article} {}.', 'a close-up photo of {article} {}.',
                                       '{article} {}.'],
                            text=dict(arch=arch, checkpoint=clip_checkpoint)))),
    # a world image holds a handful of objects: fewer proposals and sampled RoIs than on COCO
    train_cfg=dict(rpn_proposal=dict(nms_pre=300, max_per_img=100), rcnn=dict(sampler=dict(num=64))),
    test_cfg=dict(rpn=dict(nms_pre=300, max_per_img=100)))

train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-3, betas=(0.9, 0.999), weight_decay=0.1),  # short schedule: 10x COCO's
    paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=0.0, custom_keys={'temperature': dict(decay_mult=0.0)}),
    clip_grad=dict(max_norm=1.0))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=50),
    dict(type='MultiStepLR', by_epoch=False, milestones=[int(max_iters * 0.8)], gamma=0.1),
]
default_hooks = dict(
    logger=dict(interval=50),
    checkpoint=dict(by_epoch=False, interval=125, max_keep_ckpts=1))  # an interrupted run resumes
log_processor = dict(by_epoch=False)
