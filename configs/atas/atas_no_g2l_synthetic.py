# ATAS ablation on the synthetic world: without the global-to-local term.
_base_ = ['./atas_synthetic.py']

model = dict(terms=[
    dict(name='l2l', type='TokenContrastiveLoss', loss_weight=0.1, mode='infonce', normalize=True, tau=0.1,
         pred='student.mosaic.region_tokens', target='frozen.tiles.grid_tokens'),
    dict(name='g2g', type='RegionToCLSLoss', loss_weight=1.0,
         student='student.full.cls', teacher='frozen.full.cls'),
])
