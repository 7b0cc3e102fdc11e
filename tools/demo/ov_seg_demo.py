"""Open-vocabulary semantic segmentation of your own images with your own class names.

    python tools/demo/ov_seg_demo.py IMAGE_OR_FOLDER CONFIG [CHECKPOINT] --texts "sky,grass;lawn,road" \
        [--out-dir outputs/ov_seg] [--tower-checkpoint PATH] [--opacity 0.6] [--device cpu]
    python tools/demo/ov_seg_demo.py demo.jpg configs/maskclip/maskclip_vit-b16-openai_voc21-336.py \
        --texts class_names.txt

Training-free models (ZeroShotSegmentor) need no CHECKPOINT: the tower's weights come from the
config, or from --tower-checkpoint (e.g. a distilled tower; the text tower stays the config's).
Synonyms of a class are joined by ';'. Writes one picture per image (the overlay at the image's
size with a legend strip on its right) to OUT_DIR/vis/ and the label maps (PNG) to OUT_DIR/pred/.
"""
from __future__ import annotations

import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from mmengine.config import Config  # noqa: E402

from mmdistill.seg.inferencer import OVSegInferencer  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('inputs', help='an image file or a folder of images')
    parser.add_argument('config', help='segmentor config file')
    parser.add_argument('checkpoint', nargs='?', default=None, help='checkpoint (none for training-free models)')
    parser.add_argument('--texts', default=None,
                        help='class names: "a,b;b2,c" or a file (one class per line, or JSON); default: the config\'s')
    parser.add_argument('--tower-checkpoint', default=None, help='image tower weights instead of the config\'s')
    parser.add_argument('--out-dir', default='outputs/ov_seg', help='where pictures and predictions go')
    parser.add_argument('--opacity', type=float, default=0.6, help='opacity of the class colours')
    parser.add_argument('--device', default=None, help='e.g. cuda:0 or cpu (default: cuda if available)')
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    if not osp.exists(args.inputs):
        raise FileNotFoundError(f'no image or folder at {args.inputs}')
    cfg = Config.fromfile(args.config)
    if args.tower_checkpoint is not None:
        cfg.model.tower.checkpoint = args.tower_checkpoint
    inferencer = OVSegInferencer(cfg, args.checkpoint, texts=args.texts, device=args.device)
    inferencer(args.inputs, out_dir=args.out_dir, opacity=args.opacity)
    print(f'vocabulary: {", ".join(inferencer.model.vocabulary)}\n'
          f'pictures: {osp.join(args.out_dir, "vis")}\npredictions: {osp.join(args.out_dir, "pred")}')


if __name__ == '__main__':
    main()
