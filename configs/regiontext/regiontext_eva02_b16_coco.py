# RegionText at real scale: RPN proposals matched by the frozen teacher to a concept vocabulary
# (RegionCLIP-style: the LVIS class names as concept pool here; pass your own list as vocabulary.classes);
# the student's region aligned to the matched concept's text embedding. lr 2e-5, 6 epochs.
_base_ = ['../clipself/clipself_eva02_b16_coco_proposals.py']

model = dict(
    vocabulary=dict(classes=dict(dataset='mmdet.LVISV1Dataset'), templates='vild',
                    text=dict(arch={{_base_.arch}}, checkpoint={{_base_.clip_checkpoint}})),
    terms=[dict(name='regiontext', type='RegionToTextLoss', loss_weight=1.0, tau=0.01, min_score=0.1,
                student='student.image.regions', teacher='frozen.crops.cls', text='text')])
optim_wrapper = dict(optimizer=dict(lr=2e-5))  # paper 001 Sec. 4.1
# paper 001 Sec. 4.1: "batch size as 4" on 8 GPUs = 4 per GPU, 32 per step (reasoning in the base config)
train_dataloader = dict(batch_size=4)
auto_scale_lr = dict(base_batch_size=32)
