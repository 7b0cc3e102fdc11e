# Training-free zero-shot segmentation, OpenAI CLIP ViT-B/16, PASCAL Context val (5105 images) with all 459
# classes: short side 336, 224 px windows every 112 px. Data in the detectron2 layout (16-bit TIFF maps,
# 65535 = ignored) and a names file, one class per line in label order (docs/zero_shot_segmentation.md):
#   data/VOCdevkit/VOC2010/JPEGImages/*.jpg
#   data/VOCdevkit/VOC2010/annotations_detectron2/pc459_val/*.tif
#   data/VOCdevkit/VOC2010/pc459_classes.txt
_base_ = ['../_base_/models/zero_shot_vit-b16.py', '../_base_/zero_shot_seg_runtime.py']

benchmark = 'Context459'
short_side = 336
data_root = 'data/VOCdevkit/VOC2010'
classes_file = 'pc459_classes.txt'

model = dict(vocabulary=dict(classes=f'{data_root}/{classes_file}'))

test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(2048, short_side), keep_ratio=True),
    dict(type='LoadWideAnnotations'),
    dict(type='PackSegInputs'),
]
test_dataloader = dict(
    dataset=dict(
        type='PascalContext459Dataset',
        data_root=data_root,
        classes_file=classes_file,
        data_prefix=dict(img_path='JPEGImages', seg_map_path='annotations_detectron2/pc459_val'),
        pipeline=test_pipeline))
test_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'], ignore_index=65535)
