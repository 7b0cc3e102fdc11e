# C2S student: SETR-B with the MLA decoder (paper 003 Table 1 "Setr-B"; Table 2: 91.0 M parameters): mmseg's
# VisionTransformer at ViT-B/16 size (12 layers, 768 channels; features of layers 3, 6, 9, 12), MLANeck and
# SETRMLAHead whose conv_seg gives 512-d features scored by CLIP text embeddings, and SETR's four auxiliary FCN
# heads on the MLA levels (deep supervision on the seen labels, training only; also 512-d). The teacher and the
# distillation as in c2s_segformer_mit-b4.py. Built at 512 px this student has 91.6 M parameters (without the
# auxiliary heads), the paper's 91.0 M plus the position table of 32 x 32 instead of 14 x 14 patches.
# mmseg ships SETR only with ViT-L (setr_mla.py); the MLA decoder matches the paper's parameter count (PUP: 90.1 M).
# Weights: checkpoints/vit_base_p16_224_mmseg.pth: timm's ImageNet-21k ViT-B/16 (jx_vit_base_p16_224-80ecf9dd.pth,
#   https://github.com/rwightman/pytorch-image-models/releases/download/v0.1-vitjx/jx_vit_base_p16_224-80ecf9dd.pth)
#   converted with mmseg's tools/model_converters/vit2mmseg.py; the 14 x 14 position table is resized on load.
_base_ = ['./c2s_segformer_mit-b4.py']

student_checkpoint = 'checkpoints/vit_base_p16_224_mmseg.pth'
norm_cfg = dict(type='SyncBN', requires_grad=True)
model = dict(
    backbone=dict(_delete_=True, type='VisionTransformer', img_size=(512, 512), patch_size=16,
                  in_channels=3, embed_dims=768, num_layers=12, num_heads=12, out_indices=(2, 5, 8, 11),
                  drop_rate=0.1, norm_cfg=dict(type='LN', eps=1e-6, requires_grad=True), with_cls_token=False,
                  interpolate_mode='bilinear', init_cfg=dict(type='Pretrained', checkpoint=student_checkpoint)),
    neck=dict(type='MLANeck', in_channels=[768] * 4, out_channels=256, norm_cfg=norm_cfg, act_cfg=dict(type='ReLU')),
    decode_head=dict(_delete_=True, type='SETRMLAHead', in_channels=(256,) * 4, in_index=(0, 1, 2, 3), channels=512,
                     mla_channels=128, dropout_ratio=0, num_classes=512, norm_cfg=norm_cfg, align_corners=False),
    auxiliary_head=[
        dict(type='FCNHead', in_channels=256, channels=256, in_index=level, num_convs=0, kernel_size=1,
             concat_input=False, dropout_ratio=0, num_classes=512, align_corners=False,
             loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=0.4))
        for level in range(4)])
