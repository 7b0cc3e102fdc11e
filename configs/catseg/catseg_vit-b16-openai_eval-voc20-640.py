# Cat-Seg ViT-B/16 on PASCAL VOC 2012 val, the 20 object classes (background ignored; mmseg layout).
_base_ = ['./_base_/catseg_eval.py']

benchmark = 'VOC-20'
# A subset of PascalVOCDataset's classes: mmseg maps their labels to 0-19 and background to the ignore index.
voc20 = ('aeroplane', 'bicycle', 'bird', 'boat', 'bottle', 'bus', 'car', 'cat', 'chair', 'cow', 'diningtable',
         'dog', 'horse', 'motorbike', 'person', 'pottedplant', 'sheep', 'sofa', 'train', 'tvmonitor')
# CAT-Seg's datasets/voc20.json = these dataset names. Readable names with synonyms:
# catseg_vit-b16-openai_eval-voc20-synonyms-640.py
model = dict(vocabulary=dict(classes=list(voc20)))

test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(2560, {{_base_.short_side}}), keep_ratio=True),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs'),
]
test_dataloader = dict(
    dataset=dict(
        type='PascalVOCDataset',
        data_root='data/VOCdevkit/VOC2012',
        data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClass'),
        ann_file='ImageSets/Segmentation/val.txt',
        metainfo=dict(classes=voc20),
        pipeline=test_pipeline))
test_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
