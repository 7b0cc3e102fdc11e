# C2S student: SegFormer-B4 (mmseg's MixVisionTransformer + SegformerHead) whose conv_seg gives 512-d features
# scored by CLIP text embeddings; teacher: OpenAI CLIP ViT-B/16 (224 px), used in training only.
# Weights (nothing is downloaded at run time):
#   checkpoints/mit_b4_20220624-d588d980.pth  from
#     https://download.openmmlab.com/mmsegmentation/v0.5/pretrain/segformer/mit_b4_20220624-d588d980.pth
#   checkpoints/ViT-B-16.pt  (OpenAI's CLIP ViT-B/16, https://openaipublic.azureedge.net/clip/models/
#     5806e77cd80f8b59890b7e101eabd078d9fb84e6937f9e85e4ecb61988df416f/ViT-B-16.pt)
arch = 'ViT-B-16-quickgelu'  # OpenAI's weights were trained with QuickGELU (plain 'ViT-B-16' would run GELU)
clip_checkpoint = 'checkpoints/ViT-B-16.pt'
student_checkpoint = 'checkpoints/mit_b4_20220624-d588d980.pth'
student_crop_size = (512, 512)
norm_cfg = dict(type='SyncBN', requires_grad=True)

model = dict(
    type='C2SSegmentor',
    data_preprocessor=dict(type='SegDataPreProcessor', mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375],
                           bgr_to_rgb=True, pad_val=0, seg_pad_val=255, size=student_crop_size),
    backbone=dict(type='MixVisionTransformer', in_channels=3, embed_dims=64, num_stages=4, num_layers=[3, 8, 27, 3],
                  num_heads=[1, 2, 5, 8], patch_sizes=[7, 3, 3, 3], sr_ratios=[8, 4, 2, 1], out_indices=(0, 1, 2, 3),
                  mlp_ratio=4, qkv_bias=True, drop_rate=0.0, attn_drop_rate=0.0, drop_path_rate=0.1,
                  init_cfg=dict(type='Pretrained', checkpoint=student_checkpoint)),
    decode_head=dict(type='SegformerHead', in_channels=[64, 128, 320, 512], in_index=[0, 1, 2, 3], channels=256,
                     dropout_ratio=0.1, num_classes=512, norm_cfg=norm_cfg, align_corners=False),
    vocabulary=dict(templates='imagenet80', text=dict(arch=arch, checkpoint=clip_checkpoint)),
    teacher=dict(type='CLIPTower', arch=arch, checkpoint=clip_checkpoint),
    teacher_size=(224, 224),
    # Eq. 2 / 4: InfoNCE on the paper's dot products F^T c / tau (normalize=False); tau 0.07, bank 24 (Sec. 4)
    global_distill=dict(loss=dict(type='PrototypeInfoNCELoss', tau=0.07, normalize=False, loss_weight=1.0),
                        bank_size=24),
    local_distill=dict(loss=dict(type='PrototypeInfoNCELoss', tau=0.07, normalize=False, loss_weight=1.0)),
    # Eq. 5: NEL in ZegCLIP's form (100 x focal + 1 x dice; ignored pixels are negatives of every class, as in
    # ZegCLIP's SegLossPlus) + cross-entropy
    pixel_losses=dict(nel=dict(type='NELLoss', focal_weight=100.0, dice_weight=1.0, ignored_pixels='negative',
                               loss_weight=1.0),
                      ce=dict(type='PixelCrossEntropyLoss', loss_weight=1.0)),
    latent_mining=dict(window_sizes=(2, 4, 7), iterations=10, merge_threshold=0.8),  # on the 14 x 14 token grid
    latent_embedding=dict(query='prototypes', calibrator='transformer', keys=('global', 'local'), num_heads=8),
    seen_scale=1.0,
    latent_scale=20.0,
    test_cfg=dict(mode='slide', crop_size=student_crop_size, stride=(426, 426)))
