# Inductive zero-shot segmentation on the synthetic world (96 px semantic maps, 32 classes): training labels
# of the 24 seen classes only (unseen pixels ignored, images kept: SeenClassLabels), testing on all 32 with
# mIoU and sIoU / uIoU / hIoU over the world's split (splits/zero_shot_segmentation.json).
data_root = '{{$MMDISTILL_WORLD:data/synthetic_world}}/'
split_file = data_root + 'splits/zero_shot_segmentation.json'
# Label order of the semantic maps: things 0..23, stuff 24..31 (mmdistill/datasets/synthetic/vocabulary.py).
classes = [
    'red circle', 'red square', 'red star', 'orange square', 'orange diamond', 'orange heart', 'yellow diamond',
    'yellow star', 'yellow triangle', 'green star', 'green heart', 'green cross', 'blue heart', 'blue triangle',
    'blue hexagon', 'purple triangle', 'purple cross', 'purple circle', 'striped cross', 'striped hexagon',
    'striped square', 'dotted hexagon', 'dotted circle', 'dotted diamond',
    'grass', 'water', 'sand', 'brick wall', 'sky', 'snow', 'wooden floor', 'road',
]
# CLIP's normalisation (the C2S teacher re-normalises from whatever the student uses); images load as BGR.
data_preprocessor = dict(type='SegDataPreProcessor', mean=[122.7709383, 116.7460125, 104.09373615],
                         std=[68.5005327, 66.6321579, 70.32316305], bgr_to_rgb=True, pad_val=0, seg_pad_val=255,
                         size=(96, 96))

train_pipeline = [
    dict(type='mmdistill.LoadImageFromFileCached'),
    dict(type='LoadAnnotations'),
    dict(type='SeenClassLabels', classes=classes, unseen_classes=split_file),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs'),
]
dataset = dict(type='BaseSegDataset', data_root=data_root, img_suffix='.png', seg_map_suffix='.png',
               metainfo=dict(classes=classes), reduce_zero_label=False)
train_dataloader = dict(
    batch_size=16,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(dataset, data_prefix=dict(img_path='semantic/images/train', seg_map_path='semantic/annotations/train'),
                 pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=16,
    num_workers=2,
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(dataset, data_prefix=dict(img_path='semantic/images/val', seg_map_path='semantic/annotations/val'),
                 pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='ZeroShotIoUMetric', unseen_classes=split_file)
test_evaluator = val_evaluator
