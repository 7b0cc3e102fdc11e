# Table 3 "baseline + distillation" (= Table 5 first row): no latent embeddings.
_base_ = ['./c2s_segformer-mit-b4_8xb2-40k_coco-stuff156-15-512x512.py']

model = dict(latent_embedding=None)
