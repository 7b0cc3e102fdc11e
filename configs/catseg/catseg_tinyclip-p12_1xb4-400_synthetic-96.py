# Cat-Seg on the synthetic world: the tiny CLIP's image and text towers (query and value projections train),
# a small aggregator (32 channels, 4-cell windows on the 8 x 8 grid), trained on the 24 seen classes (unseen
# pixels ignored) and tested on all 32 (mIoU, sIoU / uIoU / hIoU) with Cat-Seg's protocol: resize to
# 144 px, 96 px windows every 48 px plus the global view, averaged. About 4 min on one CPU core.
#   python tools/train.py configs/catseg/catseg_tinyclip-p12_1xb4-400_synthetic-96.py
#   python tools/train.py configs/catseg/catseg_tinyclip-p12_1xb4-400_synthetic-96.py \
#       --cfg-options model.tower.checkpoint=work_dirs/quickstart/towers/<tower>.pt   # a distilled tower
_base_ = ['../_base_/datasets/zero_shot_synthetic.py', './_base_/catseg_runtime.py']

arch = 'mmdistill-world-ViT-P12'
clip_checkpoint = '{{$MMDISTILL_TINY_CLIP:work_dirs/quickstart/tiny_clip.pt}}'  # text tower; the image tower unless overridden
max_iters = 400

model = dict(
    type='CatSegSegmentor',
    data_preprocessor={{_base_.data_preprocessor}},
    tower=dict(type='CLIPTower', arch=arch, checkpoint=clip_checkpoint),
    trainable_attention=('q', 'v'),
    guidance_layers=(1, 2),  # of 4 blocks (ViT-B/16: 3 and 7 of 12)
    vocabulary=dict(classes={{_base_.classes}}, unseen_classes={{_base_.split_file}}, templates='scene',
                    text=dict(arch=arch, checkpoint=clip_checkpoint, trainable_attention=('q', 'v'))),
    decode_head=dict(
        type='CatSegHead', channels=32, num_layers=2, num_heads=2, window_size=4, class_pool=1,
        appearance_dim=32, text_dim=32, decoder_channels=(16, 8), decoder_guidance_channels=(32, 16),
        decoder_guidance_proj=(8, 4), max_classes=None,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=True, avg_non_ignore=True, loss_name='loss_bce')),
    test_cfg=dict(mode='slide', size=(144, 144), crop_size=(96, 96), stride=(48, 48)))

train_dataloader = dict(batch_size=4, num_workers=1, persistent_workers=False)
val_dataloader = dict(batch_size=8, num_workers=1)
test_dataloader = val_dataloader
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
optim_wrapper = dict(optimizer=dict(lr=1e-3))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-2, by_epoch=False, begin=0, end=25),
    dict(type='CosineAnnealingLR', eta_min=0.0, by_epoch=False, begin=25, end=max_iters),
]
default_hooks = dict(checkpoint=dict(interval=max_iters), logger=dict(interval=50))
