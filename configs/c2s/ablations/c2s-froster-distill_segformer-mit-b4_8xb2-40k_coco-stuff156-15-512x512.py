# Table 4 "Froster": FROSTER's residual feature distillation (Huang et al., ICLR 2024) in both distillations: each
# prototype passes a residual MLP head p + 0.1 MLP(p) (the student's features do not), then the squared L2 distance
# of unit vectors to its own CLS token replaces InfoNCE. Our reading; see docs/methods/c2s.md.
_base_ = ['./c2s_segformer-mit-b4_8xb2-40k_coco-stuff156-15-512x512.py']

froster = dict(loss=dict(_delete_=True, type='PrototypeL2Loss', normalize=True, loss_weight=1.0),
               residual=dict(alpha=0.1))
model = dict(global_distill=froster, local_distill=froster)
