# Dense zero-shot classification on COCO panoptic val2017 (133 classes), the protocol of the
# CLIPSelf / SCD papers' Tables 1-2: EVA02-CLIP-B/16 at 1024 px (64 x 64 dense grid).
#   things: GT boxes (RoIAlign 1x1) and masks; stuff: the box around the segment and its mask;
#   crops: each box cut out and encoded alone at 224 px (the baseline).
# Data: data/coco/val2017/, data/coco/annotations/panoptic_val2017.json + panoptic_val2017/*.png
# Weights: checkpoints/EVA02_CLIP_B_psz16_s8B.pt (https://huggingface.co/QuanSun/EVA-CLIP).
# To evaluate a distilled tower: --cfg-options model.tower.checkpoint=work_dirs/.../student_open_clip.pt
_base_ = ['../_base_/default_runtime.py']

arch = 'EVA02-B-16'
clip_checkpoint = 'checkpoints/EVA02_CLIP_B_psz16_s8B.pt'
image_size = 1024
data_root = 'data/coco/'
clip_mean = [122.7709383, 116.7460125, 104.09373615]
clip_std = [68.5005327, 66.6321579, 70.32316305]

model = dict(
    type='DenseZeroShotClassifier',
    tower=dict(type='CLIPTower', arch=arch, checkpoint=clip_checkpoint, trainable='none'),
    vocabulary=dict(classes=dict(dataset='mmdet.CocoPanopticDataset'), templates='vild', name_cleaner='coco_stuff',
                    text=dict(arch=arch, checkpoint=clip_checkpoint)),
    readouts=('boxes', 'masks', 'crops'),
    crop_batch=128,
    data_preprocessor=dict(
        type='mmdet.DetDataPreprocessor', mean=clip_mean, std=clip_std, bgr_to_rgb=True,
        pad_size_divisor=16))

test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadPanopticSegments'),
    dict(type='mmdet.Resize', scale=(image_size, image_size), keep_ratio=True),
    dict(type='mmdet.PackDetInputs', meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor')),
]
test_dataloader = dict(
    batch_size=4,
    num_workers=4,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='mmdet.CocoPanopticDataset',
        data_root=data_root,
        ann_file='annotations/panoptic_val2017.json',
        data_prefix=dict(img='val2017/', seg='annotations/panoptic_val2017/'),
        test_mode=True,
        pipeline=test_pipeline))
test_evaluator = dict(type='DenseZeroShotAccuracy', topk=(1, 5))
test_cfg = dict(type='TestLoop')
