# Table 4 "Cosine Similarity": 1 - cos instead of InfoNCE in both distillations.
_base_ = ['./c2s_segformer-mit-b4_8xb2-40k_coco-stuff156-15-512x512.py']

cosine = dict(loss=dict(_delete_=True, type='PrototypeCosineLoss', loss_weight=1.0))
model = dict(global_distill=cosine, local_distill=cosine)
