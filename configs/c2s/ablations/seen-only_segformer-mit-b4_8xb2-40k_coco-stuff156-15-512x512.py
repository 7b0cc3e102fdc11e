# Table 3 "baseline": seen classes only, no CLIP.
_base_ = ['./c2s_segformer-mit-b4_8xb2-40k_coco-stuff156-15-512x512.py']

model = dict(teacher=None, global_distill=None, local_distill=None, latent_mining=None,
             latent_embedding=None)
