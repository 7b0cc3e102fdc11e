# F-ViT (CLIPSelf / paper 001 App. D.1) in mmdet 3.x: a frozen CLIP ViT read at four blocks, adapters to a
# pyramid, stock FPN + RPN, a RoI head whose box head classifies by text embeddings, and the test-time
# geometric ensemble with the CLIP region score. Values for ViT-B/16 on OV-COCO; children override.

# Official F-ViT (CLIPSelf's F-ViT/configs/ov_coco|ov_lvis/*_eva_*.py) normalises with ImageNet's mean / std, not
# CLIP's, before the EVA tower: followed, as the published detectors were trained and tested on these inputs.
imagenet_mean = [123.675, 116.28, 103.53]
imagenet_std = [58.395, 57.12, 57.375]
norm_cfg = dict(type='SyncBN', requires_grad=True)

model = dict(
    type='FViT',
    # Official F-ViT pads every image to the square image size after normalisation (train: Pad(size=image_size),
    # test: Pad(pad_to_square=True) after the resize to image_size): inputs are never larger than image_size,
    # so padding to a multiple of it gives that square, zeros after normalisation, and one position-embedding
    # grid (40 x 40 at 640). Children with another image size set pad_size_divisor to it.
    data_preprocessor=dict(type='DetDataPreprocessor', mean=imagenet_mean, std=imagenet_std, bgr_to_rgb=True,
                           pad_size_divisor=640),
    backbone=dict(
        type='CLIPViTBackbone',
        tower=dict(type='CLIPTower', arch='EVA02-B-16', checkpoint='checkpoints/EVA02_CLIP_B_psz16_s8B.pt'),
        out_indices=(3, 5, 7, 11),
        norm_cfg=norm_cfg),
    neck=dict(type='FPN', in_channels=[768, 768, 768, 768], out_channels=256, num_outs=5, norm_cfg=norm_cfg),
    rpn_head=dict(
        type='RPNHead',
        in_channels=256,
        feat_channels=256,
        num_convs=2,
        anchor_generator=dict(type='AnchorGenerator', scales=[8], ratios=[0.5, 1.0, 2.0], strides=[4, 8, 16, 32, 64]),
        bbox_coder=dict(type='DeltaXYWHBBoxCoder', target_means=[0.0] * 4, target_stds=[1.0] * 4),
        loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=True, loss_weight=1.0),
        loss_bbox=dict(type='L1Loss', loss_weight=1.0)),
    roi_head=dict(
        type='FViTRoIHead',
        bbox_roi_extractor=dict(
            type='SingleRoIExtractor',
            roi_layer=dict(type='RoIAlign', output_size=7, sampling_ratio=0),
            out_channels=256,
            featmap_strides=[4, 8, 16, 32]),
        bbox_head=dict(
            type='FViTBBoxHead',
            in_channels=256,
            conv_out_channels=256,
            fc_out_channels=512,  # = the CLIP embedding size
            roi_feat_size=7,
            num_shared_convs=4,
            num_shared_fcs=2,
            num_cls_fcs=1,
            num_reg_fcs=1,
            norm_cfg=norm_cfg,
            # children add classes=... (a list, a file or dict(dataset=TYPE)) and base_classes=... (a split JSON
            # with a "base" list, or a list: the other classes get logit -inf and weight 0 in training)
            vocabulary=dict(
                templates='vild', text=dict(arch='EVA02-B-16', checkpoint='checkpoints/EVA02_CLIP_B_psz16_s8B.pt')),
            background_weight=0.6,
            temperature=50.0,
            ensemble=dict(alpha=0.1, beta=0.8, temperature=75.0),
            bbox_coder=dict(type='DeltaXYWHBBoxCoder', target_means=[0.0] * 4, target_stds=[0.1, 0.1, 0.2, 0.2]),
            reg_class_agnostic=True,
            loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0),
            loss_bbox=dict(type='L1Loss', loss_weight=1.0))),
    train_cfg=dict(
        rpn=dict(
            assigner=dict(type='MaxIoUAssigner', pos_iou_thr=0.7, neg_iou_thr=0.3, min_pos_iou=0.3,
                          match_low_quality=True, ignore_iof_thr=-1),
            sampler=dict(type='RandomSampler', num=256, pos_fraction=0.5, neg_pos_ub=-1, add_gt_as_proposals=False),
            allowed_border=-1,
            pos_weight=-1,
            debug=False),
        rpn_proposal=dict(nms_pre=2000, max_per_img=1000, nms=dict(type='nms', iou_threshold=0.7), min_bbox_size=0),
        rcnn=dict(
            assigner=dict(type='MaxIoUAssigner', pos_iou_thr=0.5, neg_iou_thr=0.5, min_pos_iou=0.5,
                          match_low_quality=False, ignore_iof_thr=-1),
            sampler=dict(type='RandomSampler', num=512, pos_fraction=0.25, neg_pos_ub=-1, add_gt_as_proposals=True),
            pos_weight=-1,
            debug=False)),
    test_cfg=dict(
        # nms_pre 2000 at test as in training: CLIPSelf's F-ViT configs (test_cfg.rpn.nms_pre=2000)
        rpn=dict(nms_pre=2000, max_per_img=1000, nms=dict(type='nms', iou_threshold=0.7), min_bbox_size=0),
        # OV-COCO test (CLIPSelf's fvit_vitb16_upsample_fpn_bs64_3e_ovcoco_eva_original.py): score 0.01, NMS 0.4, 100
        rcnn=dict(score_thr=0.01, nms=dict(type='nms', iou_threshold=0.4), max_per_img=100)))
