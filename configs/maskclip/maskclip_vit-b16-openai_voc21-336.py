# Training-free open-vocabulary segmentation (MaskCLIP) with OpenAI's CLIP ViT-B/16 on PASCAL VOC 2012 val,
# 21 classes (class 0 = background): short side 336, 224 px windows every 112 px, CLIP's 80 ImageNet prompt
# templates, pixels below probability 0.1 -> background. Needs the OpenAI checkpoint and VOC on disk:
#   python tools/test.py configs/maskclip/maskclip_vit-b16-openai_voc21-336.py
# Another readout of the same tower (training-free): --cfg-options model.tower.dense_path=sclip
default_scope = 'mmseg'
custom_imports = dict(imports=['mmdistill'], allow_failed_imports=False)

arch = 'ViT-B-16-quickgelu'  # OpenAI's weights were trained with QuickGELU (plain 'ViT-B-16' would run GELU)
clip_checkpoint = 'checkpoints/ViT-B-16.pt'
tower_checkpoint = clip_checkpoint
# PascalVOCDataset's label order; synonyms of a class are joined by ';' (probability = max over them).
classes = [
    'background', 'aeroplane;airplane', 'bicycle', 'bird', 'boat;ship', 'bottle', 'bus', 'car', 'cat', 'chair',
    'cow', 'dining table;table', 'dog', 'horse', 'motorbike;motorcycle', 'person', 'potted plant', 'sheep', 'sofa',
    'train', 'tv monitor;television;monitor',
]

model = dict(
    type='ZeroShotSegmentor',
    tower=dict(type='CLIPTower', arch=arch, checkpoint=tower_checkpoint),
    vocabulary=dict(classes=classes, templates='imagenet80', text=dict(arch=arch, checkpoint=clip_checkpoint)),
    logit_scale=50.0,
    background_threshold=0.1,
    test_cfg=dict(mode='slide', crop_size=(224, 224), stride=(112, 112)),
    data_preprocessor=dict(
        type='SegDataPreProcessor',
        mean=[122.7709383, 116.7460125, 104.09373615],
        std=[68.5005327, 66.6321579, 70.32316305],
        bgr_to_rgb=True))

test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(2048, 336), keep_ratio=True),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs'),
]
test_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='PascalVOCDataset',
        data_root='data/VOCdevkit/VOC2012',
        data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClass'),
        ann_file='ImageSets/Segmentation/val.txt',
        pipeline=test_pipeline))
test_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
test_cfg = dict(type='TestLoop')

env_cfg = dict(cudnn_benchmark=False, mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
               dist_cfg=dict(backend='nccl'))
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50),
    visualization=dict(type='SegVisualizationHook'))
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='SegLocalVisualizer', vis_backends=vis_backends, name='visualizer')
log_processor = dict(by_epoch=False)
log_level = 'INFO'
load_from = None
resume = False
