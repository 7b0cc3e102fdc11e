# NACLIP (Hajimiri et al., WACV 2025) on PASCAL VOC 2012 val (21 classes), as its published numbers are made:
# NACLIP's last block (k-k attention plus a Gaussian neighbourhood prior, sigma 5, no residual, no FFN), the
# cosine logits of the whole image (short side 336, one forward, no sliding windows) upsampled to it, resized to
# the original image, refined by PAMR (10 steps, dilations 8 and 16, with the normalised image), then logit
# scale 40, one softmax, max over a class's names, pixels whose top probability is below 0.1 -> background.
# Source: github.com/sinahmr/NACLIP (commit 0cac3a6), naclip.py (defaults: logit_scale=40, pamr_steps=10,
# pamr_stride=(8, 16), gaussian_std=5, arch='reduced', no area threshold) and configs/cfg_voc21.py (prob_thd=0.1,
# slide_crop=0, short side 336); names: configs/cls_voc21.txt, byte-identical to SCLIP's (inherited from the base).
#   python tools/test.py configs/zero_shot_seg/zeroshot_naclip-pamr_vit-b16-openai_voc21-336.py
# Without PAMR (NACLIP's "--pamr off" rows): --cfg-options model.post_processor=None
_base_ = ['./zeroshot_vit-b16-openai_voc21-336.py']

model = dict(
    tower=dict(dense_path='naclip', naclip_sigma=5.0, pos_embed_resize='bicubic_offset'),
    logit_scale=40.0,  # NACLIP naclip.py: logit_scale=40 (cfg_voc21.py keeps it)
    background_threshold=0.1,  # NACLIP configs/cfg_voc21.py: prob_thd=0.1
    area_threshold=None,  # NACLIP has no area threshold (SCLIP's VOC21 config has)
    post_processor=dict(type='PAMR', num_iter=10, dilations=(8, 16)),
    # NACLIP configs/cfg_voc21.py: slide_crop=0 -> forward_feature on the whole image (SCLIP's VOC21: slide 224 / 112)
    test_cfg=dict(_delete_=True, mode='whole'),
)
