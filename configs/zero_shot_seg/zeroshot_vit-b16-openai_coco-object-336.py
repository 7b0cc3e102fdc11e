# Training-free zero-shot segmentation, OpenAI CLIP ViT-B/16, COCO-Object val2017 (5000 images): the 80 COCO
# object classes + background (class 0), read from COCO-Stuff 164k's maps (COCOObjectDataset: every stuff
# class is background, and so are COCO-Stuff's unlabeled pixels, as the official conversion (GroupViT's
# cvt_coco_object.py, used by SCLIP / NACLIP) maps them): short side 336, 224 px windows every 112 px, pixels whose
# top probability is below 0.1 -> background. Data: data/coco_stuff164k (mmseg layout, *_labelTrainIds.png).
_base_ = ['../_base_/models/zero_shot_vit-b16.py', '../_base_/zero_shot_seg_runtime.py']

benchmark = 'COCO-Object'
short_side = 336

# COCOObjectDataset's label order, SCLIP's configs/cls_coco_object.txt names (a class's names joined by ';'):
# background = a list of stuff words ('bed' left out: it is also a COCO class, and a name may name one class only;
# in SCLIP's file the duplicate ties the bed class with background, which wins the argmax)
things = ['bicycle', 'car', 'motorcycle', 'airplane', 'bus', 'train', 'truck', 'boat', 'traffic light', 'fire hydrant',
          'stop sign', 'parking meter', 'bench', 'bird', 'cat', 'dog', 'horse', 'sheep', 'cow', 'elephant', 'bear',
          'zebra', 'giraffe', 'backpack', 'umbrella', 'handbag', 'tie', 'suitcase', 'frisbee', 'skis', 'snowboard',
          'sports ball', 'kite', 'baseball bat', 'baseball glove', 'skateboard', 'surfboard', 'tennis racket', 'bottle',
          'wine glass', 'cup', 'fork', 'knife', 'spoon', 'bowl', 'banana', 'apple', 'sandwich', 'orange', 'broccoli',
          'carrot', 'hot dog', 'pizza', 'donut', 'cake', 'chair', 'couch', 'potted plant', 'bed', 'dining table',
          'toilet', 'tv', 'laptop', 'mouse', 'remote', 'keyboard', 'cell phone', 'microwave', 'oven', 'toaster', 'sink',
          'refrigerator', 'book', 'clock', 'vase', 'scissors', 'teddy bear', 'hair drier', 'toothbrush']
classes = [
    'sky;wall;tree;wood;grass;road;sea;river;mountain;sands;desk;building;cloud;lamp;door;window;wardrobe;ceiling;'
    'shelf;curtain;stair;floor;hill;rail;fence',
    'person;person in shirt;person in jeans;person in dress;person in sweater;person in skirt;person in jacket;body',
] + things

# SCLIP's configs/cfg_coco_object.py: logit_scale=50, prob_thd=0.1
model = dict(vocabulary=dict(classes=classes), logit_scale=50.0, background_threshold=0.1)

test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(2048, short_side), keep_ratio=True),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs'),
]
test_dataloader = dict(
    dataset=dict(
        type='COCOObjectDataset',
        data_root='data/coco_stuff164k',
        unlabeled_as_background=True,  # 255 -> 0 as GroupViT's cvt_coco_object.py (SCLIP / NACLIP's data)
        data_prefix=dict(img_path='images/val2017', seg_map_path='annotations/val2017'),
        pipeline=test_pipeline))
test_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
