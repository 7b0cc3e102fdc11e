# Cat-Seg ViT-B/16 on ADE20K-Full val (2000 images), 847 classes (detectron2 layout, 16-bit TIFF maps, names file; see
# configs/zero_shot_seg/zeroshot_vit-b16-openai_ade847-336.py). Top-256 truncation per image.
_base_ = ['./_base_/catseg_eval.py']

benchmark = 'ADE-847'
model = dict(vocabulary=dict(classes='data/ADE20K_2021_17_01/ade847_classes.txt'))

test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(2560, {{_base_.short_side}}), keep_ratio=True),
    dict(type='LoadWideAnnotations'),
    dict(type='PackSegInputs'),
]
test_dataloader = dict(
    dataset=dict(
        type='ADE20K847Dataset',
        data_root='data/ADE20K_2021_17_01',
        classes_file='ade847_classes.txt',
        data_prefix=dict(img_path='images_detectron2/validation', seg_map_path='annotations_detectron2/validation'),
        pipeline=test_pipeline))
test_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'], ignore_index=65535)
