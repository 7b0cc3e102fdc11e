# ATAS (paper 000, this project's reading of its abstract) with EVA02-CLIP-B/16 on COCO train2017
# images, no labels. Mosaic of 4 x 4 tiles of 160 px (640 px, a 40 x 40 grid) from 16 different images
# per GPU; the frozen teacher sees every tile alone, and every image alone, at its native 224 px.
# Weights 1 / 0.1 / 1 (G2L / L2L / G2G): see docs/methods/atas.md. 8 GPUs: bash tools/dist_train.sh CONFIG 8
# Any image folder (no JSON): configs/atas/atas_vitb16_openai_image-folder.py (ImageFolderDataset).
# No validation loop: export the student, then configs/dense_zero_shot/eva02_b16_coco_panoptic_1024.py
# --cfg-options model.tower.checkpoint=<export> (docs/distiller.md).
_base_ = ['../_base_/distill/coco_distill_eva02_b16.py']

batch_size = 16  # per GPU: a 4 x 4 mosaic takes 16 different images; x 8 GPUs = 128 images per step
model = dict(
    type='Distiller',
    student=dict(type='CLIPTower', arch={{_base_.arch}}, checkpoint={{_base_.clip_checkpoint}},
                 trainable='blocks'),
    teachers=dict(frozen=dict(type='FrozenTeacher')),
    views=dict(type='Mosaic', k=4, tile_size=160, scale=(0.5, 1.0)),
    terms=[
        dict(name='g2l', type='RegionToCLSLoss', loss_weight=1.0,
             student='student.mosaic.regions', teacher='frozen.tiles.cls'),
        dict(name='l2l', type='TokenContrastiveLoss', loss_weight=0.1, mode='infonce', normalize=True, tau=0.1,
             pred='student.mosaic.region_tokens', target='frozen.tiles.grid_tokens'),
        dict(name='g2g', type='RegionToCLSLoss', loss_weight=1.0,
             student='student.full.cls', teacher='frozen.full.cls'),
    ],
    token_size=10,  # a 160 px tile is 10 x 10 cells of the student; the teacher's 14 x 14 grid is pooled to it
    data_preprocessor={{_base_.data_preprocessor}})
train_dataloader = dict(batch_size=batch_size)
auto_scale_lr = dict(enable=False, base_batch_size=128)
