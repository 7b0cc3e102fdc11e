# Training-free open-vocabulary segmentation (MaskCLIP: the value-only last block) on the synthetic world's
# val split: the 24 thing and 8 stuff classes, images upscaled from 96 to 192 px; mIoU over all 32 classes and
# the inductive zero-shot protocol's sIoU / uIoU / hIoU over the world's 24 seen / 8 unseen classes.
#   python tools/test.py configs/maskclip/maskclip_tinyclip-p12_synthetic-192.py \
#       --cfg-options model.tower.checkpoint=work_dirs/quickstart/towers/<tower>.pt
# Sliding windows instead of the whole image (e.g. 96 px windows every 64 px):
#       --cfg-options model.test_cfg.mode=slide model.test_cfg.crop_size="(96,96)" model.test_cfg.stride="(64,64)"
_base_ = ['../_base_/zero_shot_seg_runtime.py']

arch = 'mmdistill-world-ViT-P12'
clip_checkpoint = '{{$MMDISTILL_TINY_CLIP:work_dirs/quickstart/tiny_clip.pt}}'  # the text tower (and the base image tower)
tower_checkpoint = clip_checkpoint  # the image tower under evaluation: base, distilled or exported
templates = ['a photo of {article} {}.', 'a close-up photo of {article} {}.', '{article} {}.']
# Label order of the semantic maps: things 0..23, stuff 24..31 (mmdistill/datasets/synthetic/vocabulary.py).
classes = [
    'red circle', 'red square', 'red star', 'orange square', 'orange diamond', 'orange heart', 'yellow diamond',
    'yellow star', 'yellow triangle', 'green star', 'green heart', 'green cross', 'blue heart', 'blue triangle',
    'blue hexagon', 'purple triangle', 'purple cross', 'purple circle', 'striped cross', 'striped hexagon',
    'striped square', 'dotted hexagon', 'dotted circle', 'dotted diamond',
    'grass', 'water', 'sand', 'brick wall', 'sky', 'snow', 'wooden floor', 'road',
]

model = dict(
    type='ZeroShotSegmentor',
    tower=dict(type='CLIPTower', arch=arch, checkpoint=tower_checkpoint),
    vocabulary=dict(classes=classes, templates=templates, text=dict(arch=arch, checkpoint=clip_checkpoint)),
    logit_scale=50.0,
    test_cfg=dict(mode='whole'),
    data_preprocessor=dict(
        type='SegDataPreProcessor',
        mean=[122.7709383, 116.7460125, 104.09373615],
        std=[68.5005327, 66.6321579, 70.32316305],
        bgr_to_rgb=True))

test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(192, 192), keep_ratio=True),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs'),
]
test_dataloader = dict(
    batch_size=8,  # all val images have one size
    num_workers=2,
    dataset=dict(
        type='BaseSegDataset',
        data_root='{{$MMDISTILL_WORLD:data/synthetic_world}}/',
        data_prefix=dict(img_path='semantic/images/val', seg_map_path='semantic/annotations/val'),
        img_suffix='.png',
        seg_map_suffix='.png',
        metainfo=dict(classes=classes),
        reduce_zero_label=False,
        pipeline=test_pipeline))
test_evaluator = dict(type='ZeroShotIoUMetric',
                      unseen_classes='{{$MMDISTILL_WORLD:data/synthetic_world}}/splits/zero_shot_segmentation.json')
