# C2S on the synthetic world, ablation: local distillation only (with latent classes, no latent embeddings).
_base_ = ['../c2s_segformer-mit-b0_1xb16-1k_synthetic-96.py']

model = dict(global_distill=None, latent_embedding=None)
