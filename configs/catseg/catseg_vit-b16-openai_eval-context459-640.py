# Cat-Seg ViT-B/16 on PASCAL Context val (5105 images), 459 classes (detectron2 layout; see
# configs/zero_shot_seg/zeroshot_vit-b16-openai_context459-336.py). Top-256 truncation per image.
_base_ = ['./_base_/catseg_eval.py']

benchmark = 'PC-459'
model = dict(vocabulary=dict(classes='data/VOCdevkit/VOC2010/pc459_classes.txt'))

test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(2560, {{_base_.short_side}}), keep_ratio=True),
    dict(type='LoadWideAnnotations'),
    dict(type='PackSegInputs'),
]
test_dataloader = dict(
    dataset=dict(
        type='PascalContext459Dataset',
        data_root='data/VOCdevkit/VOC2010',
        classes_file='pc459_classes.txt',
        data_prefix=dict(img_path='JPEGImages', seg_map_path='annotations_detectron2/pc459_val'),
        pipeline=test_pipeline))
test_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'], ignore_index=65535)
