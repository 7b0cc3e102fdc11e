# Training-free zero-shot segmentation on PASCAL VOC 2012 val (21 classes) with Google's SigLIP ViT-B/16 (WebLI,
# 224 px; MAP head, read out per token through its value path).
# `clip_checkpoint` is open_clip's pretrained tag: fetched through open_clip when online; offline
# (MMDISTILL_OFFLINE=1) put the file the error names into checkpoints/open_clip/ViT-B-16-SigLIP/webli/, or set
# clip_checkpoint to a local file. Another benchmark with this tower: run any configs/zero_shot_seg/*openai*
# config with --cfg-options model.tower.arch=ViT-B-16-SigLIP model.tower.checkpoint=webli
#   model.vocabulary.text.arch=ViT-B-16-SigLIP model.vocabulary.text.checkpoint=webli (and the mean / std below).
# The text side needs Hugging Face's tokenizer of the tower (`pip install transformers sentencepiece`; fetched
# into the Hugging Face cache once online). Same protocol as the OpenAI config otherwise (templates, SCLIP's
# names, logit scale 65, background threshold 0.1, 224 px windows).
_base_ = ['../zeroshot_vit-b16-openai_voc21-336.py']

arch = 'ViT-B-16-SigLIP'
clip_checkpoint = 'webli'

model = dict(
    tower=dict(arch=arch, checkpoint=clip_checkpoint),
    vocabulary=dict(text=dict(arch=arch, checkpoint=clip_checkpoint)),
    # SigLIP normalises pixels to [-1, 1]
    data_preprocessor=dict(mean=[127.5, 127.5, 127.5], std=[127.5, 127.5, 127.5]),
)
