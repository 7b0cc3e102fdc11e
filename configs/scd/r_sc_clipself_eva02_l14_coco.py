# R-SC-CLIPSelf with EVA02-CLIP-L/14-336 at 896 (64 x 64 grid), as CLIPSelf's ViT-L: teacher crops at
# 336; Refiner = last 6 blocks, FC_Inter from layers 9 and 14, lambda 0.4. Ensemble alpha 0.95.
# Weights: checkpoints/EVA02_CLIP_L_336_psz14_s6B.pt. Stage 1 (the Refiner of this tower):
#   python tools/train.py configs/refiner/refiner_eva02_b16_coco.py --work-dir work_dirs/refiner_eva02_l14_coco \
#     --cfg-options arch=... (see docs/methods/scd_refiner.md for the full override list)
_base_ = ['./r_sc_clipself_eva02_b16_coco.py']

arch = 'EVA02-L-14-336'
clip_checkpoint = 'checkpoints/EVA02_CLIP_L_336_psz14_s6B.pt'
refiner_checkpoint = 'work_dirs/refiner_eva02_l14_coco/epoch_4.pth'
tower = dict(type='CLIPTower', arch=arch, checkpoint=clip_checkpoint, trainable='none')
model = dict(
    student=dict(arch=arch, checkpoint=clip_checkpoint),
    student_size=896,
    teachers=dict(refined=dict(checkpoint=refiner_checkpoint,
                               refiner=dict(tower=tower, depth=6, inter_layers=(9, 14)))),
    terms=[
        dict(name='clipself', type='RegionToCLSLoss', loss_weight=1.0,
             student='student.image.regions', teacher='frozen.crops.cls'),
        dict(name='scd', type='SpatialCorrelationLoss', loss_weight=0.4, tau_s=0.2, tau_t=0.2,
             student='student.image.region_tokens', teacher='refined.image.region_tokens'),
    ])
