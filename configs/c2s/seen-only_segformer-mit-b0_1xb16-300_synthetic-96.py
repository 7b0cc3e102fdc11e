# The seen-only baseline of configs/c2s/c2s_segformer-mit-b0_1xb16-300_synthetic-96.py: the same student, text
# classifier and 300 steps on the seen classes, without CLIP (no distillation, no latent classes).
_base_ = ['./c2s_segformer-mit-b0_1xb16-300_synthetic-96.py']

model = dict(teacher=None, global_distill=None, local_distill=None, latent_mining=None, latent_embedding=None)
