# Table 6 "CLS tokens, -": the local CLS tokens of the latent classes are the embeddings.
_base_ = ['./c2s_segformer-mit-b4_8xb2-40k_coco-stuff156-15-512x512.py']

model = dict(latent_embedding=dict(query='cls', calibrator='none'))
