# Opt-in variant of catseg_vit-b16-openai_eval-voc20-640.py: readable names and synonyms (probability = max over
# the names of a class) instead of CAT-Seg's official datasets/voc20.json names. Not comparable with published
# Cat-Seg numbers.
_base_ = ['./catseg_vit-b16-openai_eval-voc20-640.py']

benchmark = 'VOC-20-synonyms'
classes = [
    'aeroplane;airplane', 'bicycle', 'bird', 'boat', 'bottle', 'bus', 'car', 'cat', 'chair', 'cow', 'dining table',
    'dog', 'horse', 'motorbike;motorcycle', 'person', 'potted plant', 'sheep', 'sofa', 'train',
    'tv monitor;television',
]
model = dict(vocabulary=dict(classes=classes))
