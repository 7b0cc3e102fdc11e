# ATAS with OpenAI CLIP ViT-B/16 on any folder of images, no labels (the abstract's "any image folder"):
# every image under data/images/ (sub-folders included; .jpg .jpeg .png .bmp .webp .tif .tiff).
# Another folder: --cfg-options train_dataloader.dataset.data_root=PATH
# 8 GPUs: bash tools/dist_train.sh CONFIG 8
# No validation loop: export the student, then configs/dense_zero_shot/eva02_b16_coco_panoptic_1024.py with
# --cfg-options model.tower.arch=ViT-B-16-quickgelu model.tower.checkpoint=<export>
# model.text.arch=ViT-B-16-quickgelu model.text.checkpoint=checkpoints/ViT-B-16.pt (docs/distiller.md).
_base_ = ['./atas_vitb16_openai_coco.py']

image_folder = 'data/images/'
train_dataloader = dict(dataset=dict(
    _delete_=True,
    type='ImageFolderDataset',
    data_root=image_folder,
    pipeline={{_base_.distill_pipeline}}))
