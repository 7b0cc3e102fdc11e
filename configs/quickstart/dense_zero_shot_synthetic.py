# Dense zero-shot accuracy of a CLIP tower on the synthetic world's val split:
# boxes (RoIAlign), thing / stuff masks (mask pooling) and the crop baseline.
# Run: python tools/test.py configs/quickstart/dense_zero_shot_synthetic.py \
#        --cfg-options model.tower.checkpoint=PATH model.vocabulary.text.checkpoint=PATH
_base_ = ['../_base_/default_runtime.py', '../_base_/datasets/synthetic_world.py']

arch = 'mmdistill-world-ViT-P12'
clip_checkpoint = '{{$MMDISTILL_TINY_CLIP:work_dirs/quickstart/tiny_clip.pt}}'  # the pretrained tiny CLIP (text tower)
tower_checkpoint = clip_checkpoint  # the image tower under evaluation
templates = ['a photo of {article} {}.', 'a close-up photo of {article} {}.', '{article} {}.']

model = dict(
    type='DenseZeroShotClassifier',
    tower=dict(type='CLIPTower', arch=arch, checkpoint=tower_checkpoint, trainable='none'),
    vocabulary=dict(classes=dict(dataset='SyntheticWorldPanopticDataset'), templates=templates,
                    text=dict(arch=arch, checkpoint=clip_checkpoint)),
    readouts=('boxes', 'masks', 'crops'),
    # Crops are the squares of 1.15 x the box's longest side around each object, surroundings
    # included. Chosen on crops of the *train* split (tiny CLIP, top-1 over things): squares 65.7 %
    # at 1.15 and 64.9 % at 1.3; letterboxed boxes (the rest of the square blank) 64.5 / 64.4 %.
    crop_scale=1.15,
    data_preprocessor=dict(
        type='mmdet.DetDataPreprocessor', mean={{_base_.clip_mean}}, std={{_base_.clip_std}}, bgr_to_rgb=True))

test_dataloader = dict(
    batch_size=32,
    num_workers=2,
    persistent_workers=False,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset={{_base_.panoptic_val_dataset}})
test_evaluator = dict(type='DenseZeroShotAccuracy', topk=(1, 5))
test_cfg = dict(type='TestLoop')
