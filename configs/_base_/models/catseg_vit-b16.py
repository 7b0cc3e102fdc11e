# Cat-Seg with OpenAI CLIP ViT-B/16 (Cho et al., CVPR 2024): query / value projections of both towers train
# ("updated" Cat-Seg; set model.text_tower.trainable_attention=() for the vanilla variant), the dense map of the
# value-path last block against one text embedding per class for the prompt 'A photo of a {} in the scene',
# guidance from blocks 3 and 7, 2 aggregation layers (128 channels, 12-cell Swin windows on the 24 x 24 grid,
# class aggregation pooled 2 x 2 in training), top-256 classes per image above 256 classes. The image tower is
# chosen by model.tower.checkpoint (a distilled tower in open_clip format works as is); the text tower stays
# the original CLIP's. Test: resize to 640 x 640, 384 px windows every 256 px plus the global view, averaged.
arch = 'ViT-B-16-quickgelu'  # OpenAI's weights were trained with QuickGELU
clip_checkpoint = 'checkpoints/ViT-B-16.pt'
crop_size = (384, 384)

model = dict(
    type='CatSegSegmentor',
    data_preprocessor=dict(type='SegDataPreProcessor', mean=[122.7709383, 116.7460125, 104.09373615],
                           std=[68.5005327, 66.6321579, 70.32316305], bgr_to_rgb=True, pad_val=0, seg_pad_val=255,
                           size=crop_size),
    tower=dict(type='CLIPTower', arch=arch, checkpoint=clip_checkpoint, dense_path='value'),
    trainable_attention=('q', 'v'),
    guidance_layers=(3, 7),
    vocabulary=dict(templates='scene', name_cleaner='default',
                    text=dict(arch=arch, checkpoint=clip_checkpoint, trainable_attention=('q', 'v'))),
    decode_head=dict(
        type='CatSegHead', channels=128, num_layers=2, num_heads=4, window_size=12, class_pool=2, test_class_pool=1,
        appearance_dim=128, text_dim=128, decoder_channels=(64, 32), decoder_guidance_channels=(256, 128),
        decoder_guidance_proj=(32, 16), max_classes=256, truncate=True, align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=True, avg_non_ignore=True, loss_name='loss_bce')),
    test_cfg=dict(mode='slide', size=(640, 640), crop_size=crop_size, stride=(256, 256)))
