# C2S on the synthetic world, ablation: global distillation only (no local distillation, no latent classes).
_base_ = ['../c2s_segformer-mit-b0_1xb16-1k_synthetic-96.py']

model = dict(local_distill=None, latent_mining=None, latent_embedding=None)
