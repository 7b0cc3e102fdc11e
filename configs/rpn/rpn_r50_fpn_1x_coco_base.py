# Class-agnostic RPN (stock mmdet RPN: ResNet-50 + FPN + RPNHead) trained on the 48 base classes of OV-COCO,
# so no novel-class box ever supervises it. Its proposals feed CLIPSelf's "proposals" views:
#   python tools/train.py configs/rpn/rpn_r50_fpn_1x_coco_base.py
#   python tools/misc/rpn_proposals.py configs/rpn/rpn_r50_fpn_1x_coco_base.py work_dirs/.../epoch_12.pth \
#       --ann-file data/coco/annotations/instances_train2017.json --img-dir data/coco/train2017 \
#       --out data/coco/proposals/rpn_coco_base_train2017.json
# The backbone starts from torchvision's ImageNet ResNet-50 (mmdet's `torchvision://resnet50`): put it in the
# torch hub cache (~/.cache/torch/hub/checkpoints/resnet50-0676ba61.pth) on machines without network access.
_base_ = 'mmdet::rpn/rpn_r50_fpn_1x_coco.py'

custom_imports = dict(imports=['mmdistill'], allow_failed_imports=False)
custom_hooks = [dict(type='mmdistill.LossGuardHook')]  # a non-finite loss stops the run before its step

# The OV-COCO split of OVR-CNN (Zareian et al., CVPR 2021): 48 base + 17 novel of the 80 COCO classes.
base_classes = (
    'person', 'bicycle', 'car', 'motorcycle', 'train', 'truck', 'boat', 'bench', 'bird', 'horse', 'sheep', 'bear',
    'zebra', 'giraffe', 'backpack', 'handbag', 'suitcase', 'frisbee', 'skis', 'kite', 'surfboard', 'bottle', 'fork',
    'spoon', 'bowl', 'banana', 'apple', 'sandwich', 'orange', 'broccoli', 'carrot', 'pizza', 'donut', 'chair', 'bed',
    'toilet', 'tv', 'laptop', 'mouse', 'remote', 'microwave', 'oven', 'toaster', 'refrigerator', 'book', 'clock',
    'vase', 'toothbrush')
novel_classes = (
    'airplane', 'bus', 'cat', 'dog', 'cow', 'elephant', 'umbrella', 'tie', 'snowboard', 'skateboard', 'cup', 'knife',
    'cake', 'couch', 'keyboard', 'sink', 'scissors')

# Training sees base-class boxes only (images without any are dropped by filter_empty_gt).
train_dataloader = dict(dataset=dict(metainfo=dict(classes=base_classes)))
# Validation after every epoch (and tools/test.py): proposal recall over the val2017 boxes of all classes, novel
# included: AR@100 / AR@300 / AR@1000 averaged over IoU 0.5:0.95 ('proposal_fast', as mmdet reports its RPNs;
# novel-class recall is what CLIPSelf's proposals need). CompatCocoMetric is mmdet's CocoMetric whose recall works
# when images have different numbers of boxes (mmdet's eval_recalls fails there on NumPy >= 1.24:
# docs/compatibility.md).
val_evaluator = dict(type='CompatCocoMetric', metric='proposal_fast')
test_evaluator = val_evaluator
