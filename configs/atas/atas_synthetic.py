# ATAS (paper 000, this project's reading of its abstract) on the synthetic world: the student
# sees a 2 x 2 mosaic of square crops of 4 different images (192 px, 16 x 16 cells, as CLIPSelf's
# student image); the frozen teacher (the initial tiny CLIP) sees each tile alone at its native 96 px
# and each whole image alone.
#   global-to-local: student map pooled over each tile  <- teacher CLS of the tile alone
#   local-to-local:  student tokens of each tile (8 x 8) <- teacher tokens of the tile alone (InfoNCE)
#   global-to-global: student CLS of each image          <- teacher CLS of the same image
_base_ = ['../_base_/distill/synthetic_world_distill.py']

model = dict(
    type='Distiller',
    student=dict(type='CLIPTower', arch={{_base_.arch}}, checkpoint={{_base_.clip_checkpoint}},
                 trainable='blocks'),
    teachers=dict(frozen=dict(type='FrozenTeacher')),
    views=dict(type='Mosaic', k=2, tile_size=96, scale=(0.5, 1.0)),
    terms=[
        dict(name='g2l', type='RegionToCLSLoss', loss_weight=1.0,
             student='student.mosaic.regions', teacher='frozen.tiles.cls'),
        # InfoNCE at tau 0.1 has ~10x the logit gradient of a cosine loss: 0.1 (the third-party
        # reproduction's 0.01 is for a loss form it does not state)
        dict(name='l2l', type='TokenContrastiveLoss', loss_weight=0.1, mode='infonce', normalize=True, tau=0.1,
             pred='student.mosaic.region_tokens', target='frozen.tiles.grid_tokens'),
        dict(name='g2g', type='RegionToCLSLoss', loss_weight=1.0,
             student='student.full.cls', teacher='frozen.full.cls'),
    ],
    token_size=8,  # a 96 px tile is 8 x 8 cells of the P12 tower, in the mosaic and alone
    data_preprocessor={{_base_.data_preprocessor}})
