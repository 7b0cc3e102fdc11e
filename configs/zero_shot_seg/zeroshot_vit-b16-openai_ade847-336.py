# Training-free zero-shot segmentation, OpenAI CLIP ViT-B/16, ADE20K-Full val (2000 images), 847 classes:
# short side 336, 224 px windows every 112 px. Data in the detectron2 layout (16-bit TIFF maps, 65535 =
# ignored) and a names file, one class per line in label order (docs/zero_shot_segmentation.md):
#   data/ADE20K_2021_17_01/images_detectron2/validation/*.jpg
#   data/ADE20K_2021_17_01/annotations_detectron2/validation/*.tif
#   data/ADE20K_2021_17_01/ade847_classes.txt
_base_ = ['../_base_/models/zero_shot_vit-b16.py', '../_base_/zero_shot_seg_runtime.py']

benchmark = 'ADE-847'
short_side = 336
data_root = 'data/ADE20K_2021_17_01'
classes_file = 'ade847_classes.txt'

model = dict(vocabulary=dict(classes=f'{data_root}/{classes_file}'))

test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(2048, short_side), keep_ratio=True),
    dict(type='LoadWideAnnotations'),
    dict(type='PackSegInputs'),
]
test_dataloader = dict(
    dataset=dict(
        type='ADE20K847Dataset',
        data_root=data_root,
        classes_file=classes_file,
        data_prefix=dict(img_path='images_detectron2/validation', seg_map_path='annotations_detectron2/validation'),
        pipeline=test_pipeline))
test_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'], ignore_index=65535)
