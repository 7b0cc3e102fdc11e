# C2S (paper 003 Table 1): SETR-B (ViT-B/16 + MLA decoder) distilled from OpenAI CLIP ViT-B/16 on
# COCO-Stuff 156 / 15, 512 x 512 crops, batch 16 (8 GPUs x 2), 80k iterations, AdamW with mmseg's SegFormer schedule
# (no weight decay on the position table and layer norms either); tested on all classes (sIoU / uIoU / hIoU)
# with the student alone.
#   bash tools/dist_train.sh configs/c2s/c2s_setr-vit-b-mla_8xb2-80k_coco-stuff156-15-512x512.py 8
_base_ = ['../_base_/models/c2s_setr_vit-b.py', '../_base_/datasets/zero_shot_coco-stuff156-15.py', '../_base_/c2s_runtime.py']

max_iters = 80000
model = dict(vocabulary=dict(classes={{_base_.classes}}, unseen_classes={{_base_.unseen_classes}},
                             name_cleaner='coco_stuff'))
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
optim_wrapper = dict(paramwise_cfg=dict(custom_keys={'pos_embed': dict(decay_mult=0.0), 'ln': dict(decay_mult=0.0)}))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0, end=1500),
    dict(type='PolyLR', eta_min=0.0, power=1.0, by_epoch=False, begin=1500, end=max_iters),
]
