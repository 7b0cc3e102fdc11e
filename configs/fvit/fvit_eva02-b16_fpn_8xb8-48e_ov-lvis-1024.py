# F-ViT, EVA02-CLIP-B/16 frozen, OV-LVIS (rare classes unseen), 1024 px, 48 epochs (steps 32 / 44), 8 GPUs x 8,
# with a class-agnostic mask head; metric: mask AP_r (LVISMetric).
_base_ = ['../_base_/models/fvit_vit_fpn.py', '../_base_/datasets/ov_lvis_detection.py',
          '../_base_/schedules/fvit_ov_lvis_48e.py', '../_base_/fvit_runtime.py']

arch = 'EVA02-B-16'
clip_checkpoint = 'checkpoints/EVA02_CLIP_B_psz16_s8B.pt'
tower_checkpoint = clip_checkpoint
norm_cfg = dict(type='SyncBN', requires_grad=True)

model = dict(
    data_preprocessor=dict(pad_size_divisor=1024),  # padded to 1024 x 1024 (official Pad(size=image_size))
    backbone=dict(tower=dict(arch=arch, checkpoint=tower_checkpoint), out_indices=(3, 5, 7, 11)),
    # official OV-LVIS: CustomRPNHead, 2 convs each followed by MMSyncBN (fvit_vitb16_upsample_fpn_bs64_4x_ovlvis_*)
    rpn_head=dict(type='NormRPNHead', norm_cfg=norm_cfg),
    roi_head=dict(
        bbox_head=dict(
            fc_out_channels=512,
            vocabulary=dict(classes=dict(dataset='mmdet.LVISV1Dataset'), base_classes={{_base_.split_file}},
                            templates='vild', text=dict(arch=arch, checkpoint=clip_checkpoint)),
            background_weight=0.9,
            ensemble=dict(alpha=0.1, beta=0.6, temperature=50.0)),
        mask_roi_extractor=dict(
            type='SingleRoIExtractor',
            roi_layer=dict(type='RoIAlign', output_size=14, sampling_ratio=0),
            out_channels=256,
            featmap_strides=[4, 8, 16, 32]),
        mask_head=dict(
            type='FCNMaskHead',
            num_convs=4,
            in_channels=256,
            conv_out_channels=256,
            num_classes=1203,
            class_agnostic=True,
            norm_cfg=norm_cfg,
            loss_mask=dict(type='CrossEntropyLoss', use_mask=True, loss_weight=1.0))),
    # official OV-LVIS: the RoI assigner matches low-quality boxes too (match_low_quality=True; OV-COCO: False)
    train_cfg=dict(rcnn=dict(mask_size=28, assigner=dict(match_low_quality=True))),
    # official OV-LVIS test: score 1e-4, NMS 0.5, 300 detections
    test_cfg=dict(rcnn=dict(score_thr=1e-4, nms=dict(type='nms', iou_threshold=0.5), max_per_img=300,
                            mask_thr_binary=0.5)))
