# SILC pretraining from scratch on the synthetic world with the image-text loss on the whole image: the
# tiny CLIP's recipe (configs/quickstart/tiny_clip_pretrain_synthetic.py: same data, steps, optimiser, schedule
# and inputs to its loss) plus local-to-global self-distillation, so that the only difference from the tiny
# CLIP is SILC's distillation term. One global view, the whole image (scale 1, aspect 1: the world's square
# images), read by the image-text loss and by the EMA teacher; 4 local crops (0.05-0.4 at 48 px) read by the
# DINO loss. About 2.3 tiny-CLIP steps per step (configs/silc/silc_pretrain_synthetic.py, the published
# 2 global + 8 local crops: about 5).
_base_ = ['./silc_pretrain_synthetic.py']

model = dict(views=dict(num_global=1, num_local=4, global_scale=(1.0, 1.0), ratio=(1.0, 1.0)))
