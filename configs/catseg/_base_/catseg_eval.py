# Evaluation of a trained Cat-Seg (ViT-B/16) on one benchmark: tools/test.py CONFIG CHECKPOINT, or the suite
#   python tools/analysis/zero_shot_suite.py configs/catseg/catseg_vit-b16-openai_eval-*.py \
#       --cfg-options model.checkpoint=work_dirs/<run>/iter_80000.pth --out-dir work_dirs/catseg_suite
# Images resized to short side 640 (then to 640 x 640 in the model, Cat-Seg's protocol), one per batch.
_base_ = ['../../_base_/models/catseg_vit-b16.py', '../../_base_/zero_shot_seg_runtime.py']

short_side = 640
model = dict(checkpoint=None)  # the trained Cat-Seg checkpoint (the suite cannot pass load_from)
