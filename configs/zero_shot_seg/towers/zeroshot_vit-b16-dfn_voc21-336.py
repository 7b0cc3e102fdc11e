# Training-free zero-shot segmentation on PASCAL VOC 2012 val (21 classes) with Apple's DFN2B-CLIP ViT-B/16
# (data-filtering networks, 2B pairs; QuickGELU, class token).
# `clip_checkpoint` is open_clip's pretrained tag: fetched through open_clip when online; offline
# (MMDISTILL_OFFLINE=1) put the file the error names into checkpoints/open_clip/ViT-B-16-quickgelu/dfn2b/, or set
# clip_checkpoint to a local file. Another benchmark with this tower: run any configs/zero_shot_seg/*openai*
# config with --cfg-options model.tower.arch=ViT-B-16-quickgelu model.tower.checkpoint=dfn2b
#   model.vocabulary.text.arch=ViT-B-16-quickgelu model.vocabulary.text.checkpoint=dfn2b.
# Same protocol as the OpenAI config otherwise (templates, SCLIP's names, logit scale 65, background threshold 0.1,
# 224 px windows).
_base_ = ['../zeroshot_vit-b16-openai_voc21-336.py']

arch = 'ViT-B-16-quickgelu'
clip_checkpoint = 'dfn2b'

model = dict(
    tower=dict(arch=arch, checkpoint=clip_checkpoint),
    vocabulary=dict(text=dict(arch=arch, checkpoint=clip_checkpoint)),
)
