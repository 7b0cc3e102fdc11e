# Vanilla Cat-Seg on the synthetic world: as catseg_tinyclip-p12_1xb4-400_synthetic-96.py with the text tower frozen.
_base_ = ['./catseg_tinyclip-p12_1xb4-400_synthetic-96.py']

model = dict(vocabulary=dict(text=dict(trainable_attention=())))
