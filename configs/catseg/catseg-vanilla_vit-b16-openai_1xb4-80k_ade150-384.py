# Vanilla Cat-Seg (paper 001's dagger rows): as catseg_vit-b16-openai_1xb4-80k_ade150-384.py with the text tower
# frozen (only the image tower's q / v projections and the aggregator train; checkpoints leave the text tower out).
_base_ = ['./catseg_vit-b16-openai_1xb4-80k_ade150-384.py']

model = dict(vocabulary=dict(text=dict(trainable_attention=())))
