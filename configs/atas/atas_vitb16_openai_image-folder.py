# ATAS with OpenAI CLIP ViT-B/16 on any folder of images, no labels (the abstract's "any image folder"):
# every image under data/images/ (sub-folders included; .jpg .jpeg .png .bmp .webp .tif .tiff).
# Another folder: --cfg-options train_dataloader.dataset.data_root=PATH
# 8 GPUs: bash tools/dist_train.sh CONFIG 8
_base_ = ['./atas_vitb16_openai_coco.py']

image_folder = 'data/images/'
train_dataloader = dict(dataset=dict(
    _delete_=True,
    type='ImageFolderDataset',
    data_root=image_folder,
    pipeline={{_base_.distill_pipeline}}))
