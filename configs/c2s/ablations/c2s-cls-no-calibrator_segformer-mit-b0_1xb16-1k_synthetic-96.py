# C2S on the synthetic world, ablation: the latent classes' local CLS tokens as their embeddings.
_base_ = ['../c2s_segformer-mit-b0_1xb16-1k_synthetic-96.py']

model = dict(latent_embedding=dict(query='cls', calibrator='none'))
