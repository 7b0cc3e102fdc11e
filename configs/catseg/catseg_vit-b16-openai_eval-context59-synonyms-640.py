# Opt-in variant of catseg_vit-b16-openai_eval-context59-640.py: readable names and synonyms (probability = max over
# the names of a class) instead of CAT-Seg's official datasets/pc59.json names. Not comparable with published
# Cat-Seg numbers.
_base_ = ['./catseg_vit-b16-openai_eval-context59-640.py']

benchmark = 'PC-59-synonyms'
classes = [
    'aeroplane;airplane', 'bag', 'bed', 'bedclothes', 'bench', 'bicycle', 'bird', 'boat', 'book', 'bottle',
    'building', 'bus', 'cabinet', 'car', 'cat', 'ceiling', 'chair', 'cloth', 'computer', 'cow', 'cup', 'curtain',
    'dog', 'door', 'fence', 'floor', 'flower', 'food', 'grass', 'ground', 'horse', 'keyboard', 'light',
    'motorbike;motorcycle', 'mountain', 'mouse', 'person', 'plate', 'platform', 'potted plant', 'road', 'rock',
    'sheep', 'shelves', 'sidewalk', 'sign', 'sky', 'snow', 'sofa', 'table', 'track', 'train', 'tree', 'truck',
    'tv monitor;television', 'wall', 'water', 'window', 'wood',
]
model = dict(vocabulary=dict(classes=classes))
