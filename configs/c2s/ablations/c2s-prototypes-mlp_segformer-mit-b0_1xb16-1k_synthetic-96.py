# C2S on the synthetic world, ablation: latent embeddings from an MLP on the prototypes.
_base_ = ['../c2s_segformer-mit-b0_1xb16-1k_synthetic-96.py']

model = dict(latent_embedding=dict(calibrator='mlp'))
