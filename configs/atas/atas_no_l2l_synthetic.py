# ATAS ablation on the synthetic world: without the local-to-local term.
_base_ = ['./atas_synthetic.py']

model = dict(terms=[
    dict(name='g2l', type='RegionToCLSLoss', loss_weight=1.0,
         student='student.mosaic.regions', teacher='frozen.tiles.cls'),
    dict(name='g2g', type='RegionToCLSLoss', loss_weight=1.0,
         student='student.full.cls', teacher='frozen.full.cls'),
])
