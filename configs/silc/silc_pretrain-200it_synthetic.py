# The first 200 of the 800 steps of silc_pretrain_synthetic.py (its learning-rate schedule unchanged), from
# random weights: the slow learning test's SILC run (about 12 min on 2 quiet cores, float32).
_base_ = ['./silc_pretrain_synthetic.py']

train_cfg = dict(max_iters=200)
