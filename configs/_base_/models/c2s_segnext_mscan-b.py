# C2S student: SegNeXt-B (mmseg's MSCAN + LightHamHead) whose conv_seg gives 512-d features scored by CLIP text
# embeddings; the teacher and the distillation as in c2s_segformer_mit-b4.py.
# Weights: checkpoints/mscan_b_20230227-3ab7d230.pth from
#   https://download.openmmlab.com/mmsegmentation/v0.5/pretrain/segnext/mscan_b_20230227-3ab7d230.pth
_base_ = ['./c2s_segformer_mit-b4.py']

student_checkpoint = 'checkpoints/mscan_b_20230227-3ab7d230.pth'
model = dict(
    backbone=dict(_delete_=True, type='MSCAN', embed_dims=[64, 128, 320, 512], mlp_ratios=[8, 8, 4, 4],
                  drop_rate=0.0, drop_path_rate=0.1, depths=[3, 3, 12, 3],
                  attention_kernel_sizes=[5, [1, 7], [1, 11], [1, 21]],
                  attention_kernel_paddings=[2, [0, 3], [0, 5], [0, 10]], act_cfg=dict(type='GELU'),
                  norm_cfg=dict(type='SyncBN', requires_grad=True),  # 8 processes of 2 images: synced statistics
                  init_cfg=dict(type='Pretrained', checkpoint=student_checkpoint)),
    decode_head=dict(_delete_=True, type='LightHamHead', in_channels=[128, 320, 512], in_index=[1, 2, 3],
                     channels=512, ham_channels=512, dropout_ratio=0.1, num_classes=512,
                     norm_cfg=dict(type='GN', num_groups=32, requires_grad=True), align_corners=False,
                     ham_kwargs=dict(MD_S=1, MD_R=16, train_steps=6, eval_steps=7, inv_t=100, rand_init=True)))
