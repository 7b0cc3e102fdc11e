"""Export a distilled CLIP image tower as a complete open_clip checkpoint.

The tower comes from an mmengine checkpoint (keys under ``--prefix``, default ``student.``);
the text tower and the rest from ``--original``, or from the checkpoint itself: a trained text
tower under ``--text-prefix`` (``text_tower.clip.`` of a distiller with a text tower, e.g. SILC), or the
whole model under the prefix (e.g. ``clip.`` of ``CLIPPretrainer``).
The result loads with ``open_clip.create_model(arch, pretrained=OUT)`` and with
``CLIPTower(arch, checkpoint=OUT)``.

Examples:
    python tools/model_converters/export_open_clip.py work_dirs/clipself/iter_60000.pth --arch EVA02-B-16 \\
        --original checkpoints/EVA02_CLIP_B_psz16_s8B.pt --out eva02_b16_clipself_student.pt
    python tools/model_converters/export_open_clip.py work_dirs/pretrain/iter_2000.pth \\
        --arch mmdistill-world-ViT-P12 --prefix clip. --out tiny_clip.pt
    python tools/model_converters/export_open_clip.py work_dirs/silc_pretrain/iter_800.pth \\
        --arch mmdistill-world-ViT-P12 --text-prefix text_tower.clip. --out silc_clip.pt
"""
import argparse
import importlib.util
import os.path as osp
import sys


def _import_mmdistill() -> None:
    if importlib.util.find_spec('mmdistill') is None:  # running from a source checkout
        sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))


_import_mmdistill()

from mmdistill.clip.export import export_open_clip  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Export a distilled CLIP tower as an open_clip checkpoint.')
    parser.add_argument('checkpoint', help='mmengine checkpoint of a distiller (or an open_clip-format file)')
    parser.add_argument('--arch', required=True, help='open_clip architecture, e.g. EVA02-B-16')
    parser.add_argument('--original', help='the original CLIP checkpoint (text tower, logit_scale); required when '
                        'the checkpoint holds only an image tower')
    parser.add_argument('--prefix', '--student-prefix', dest='prefix', default='student.',
                        help='prefix of the tower keys in the checkpoint (default: student.)')
    parser.add_argument('--text-prefix', help='prefix of a trained text tower in the checkpoint (text_tower.clip. '
                        'for a distiller with a text tower): exported with the image tower, instead of --original\'s')
    parser.add_argument('--out', required=True, help='output open_clip checkpoint (.pt)')
    return parser.parse_args(argv)


def main(argv=None) -> str:
    args = parse_args(argv)
    out = export_open_clip(args.checkpoint, args.arch, args.out, original=args.original, prefix=args.prefix,
                           text_prefix=args.text_prefix)
    print(f'open_clip checkpoint of {args.arch} written to {out}')
    return out


if __name__ == '__main__':
    main()
