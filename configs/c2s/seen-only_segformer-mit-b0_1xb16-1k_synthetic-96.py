# The baseline of paper 003 Table 3 on the synthetic world: the same student and text-embedding classifier trained
# on the seen classes only, without CLIP (no distillation, no latent classes).
_base_ = ['./c2s_segformer-mit-b0_1xb16-1k_synthetic-96.py']

model = dict(teacher=None, global_distill=None, local_distill=None, latent_mining=None, latent_embedding=None)
