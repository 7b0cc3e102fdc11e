"""Open-vocabulary detection on your own images with your own class names.

    python tools/demo/ov_det_demo.py IMAGE_OR_FOLDER CONFIG CHECKPOINT --texts "red circle,blue star" \
        [--out-dir outputs/det] [--score-thr 0.3] [--device cpu]
    python tools/demo/ov_det_demo.py demo.jpg CONFIG CHECKPOINT --texts class_names.txt

Writes one picture per image with named boxes to OUT_DIR/vis/ and the predictions (JSON) to OUT_DIR/preds/.
"""
from __future__ import annotations

import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from mmdistill.det.inferencer import OVDetInferencer  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('inputs', help='an image file or a folder of images')
    parser.add_argument('config', help='F-ViT config file')
    parser.add_argument('checkpoint', help='F-ViT checkpoint')
    parser.add_argument('--texts', default=None,
                        help='class names: "a,b,c" or a file (one name per line, or JSON); default: the config\'s')
    parser.add_argument('--out-dir', default='outputs/ov_det', help='where pictures and predictions go')
    parser.add_argument('--score-thr', type=float, default=0.3, help='boxes drawn above this score')
    parser.add_argument('--device', default=None, help='e.g. cuda:0 or cpu (default: cuda if available)')
    parser.add_argument('--batch-size', type=int, default=1)
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    if not osp.exists(args.inputs):
        raise FileNotFoundError(f'no image or folder at {args.inputs}')
    inferencer = OVDetInferencer(args.config, args.checkpoint, texts=args.texts, device=args.device)
    inferencer(args.inputs, out_dir=args.out_dir, pred_score_thr=args.score_thr, batch_size=args.batch_size,
               no_save_pred=False)
    print(f'vocabulary: {", ".join(inferencer.model.vocabulary)}\npictures: {osp.join(args.out_dir, "vis")}')


if __name__ == '__main__':
    main()
