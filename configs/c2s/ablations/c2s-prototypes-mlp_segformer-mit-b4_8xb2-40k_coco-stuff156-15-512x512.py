# Table 6 "Prototypes, MLP".
_base_ = ['./c2s_segformer-mit-b4_8xb2-40k_coco-stuff156-15-512x512.py']

model = dict(latent_embedding=dict(calibrator='mlp'))
