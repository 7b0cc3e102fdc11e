# Table 4 "L2 Loss": squared L2 distance instead of InfoNCE in both distillations.
_base_ = ['./c2s_segformer-mit-b4_8xb2-40k_coco-stuff156-15-512x512.py']

l2 = dict(loss=dict(_delete_=True, type='PrototypeL2Loss', normalize=False, loss_weight=1.0))
model = dict(global_distill=l2, local_distill=l2)
