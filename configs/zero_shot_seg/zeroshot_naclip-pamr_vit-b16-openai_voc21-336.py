# NACLIP (Hajimiri et al., WACV 2025) on PASCAL VOC 2012 val (21 classes), as its published numbers are made:
# NACLIP's last block (k-k attention plus a Gaussian neighbourhood prior, sigma 5, no residual, no FFN), the
# cosine logits upsampled and averaged over 224 px windows every 112 px, resized to the image, refined by PAMR
# (10 steps, dilations 8 and 16, with the normalised image), then logit scale 40, one softmax, max over a
# class's names, pixels whose top probability is below 0.1 -> background.
# Source: github.com/sinahmr/NACLIP, naclip.py (defaults: logit_scale=40, pamr_steps=10, pamr_stride=(8, 16),
# slide 224 / 112, gaussian_std=5, arch='reduced') and configs/cfg_voc21.py (prob_thd=0.1, short side 336).
#   python tools/test.py configs/zero_shot_seg/zeroshot_naclip-pamr_vit-b16-openai_voc21-336.py
# Without PAMR (NACLIP's "--pamr off" rows): --cfg-options model.post_processor=None
_base_ = ['./zeroshot_vit-b16-openai_voc21-336.py']

model = dict(
    tower=dict(dense_path='naclip', naclip_sigma=5.0, pos_embed_resize='bicubic_offset'),
    logit_scale=40.0,
    background_threshold=0.1,
    area_threshold=None,  # NACLIP has no area threshold (SCLIP's VOC21 config has)
    post_processor=dict(type='PAMR', num_iter=10, dilations=(8, 16)),
)
