"""Weight-space ensemble of a distilled CLIP image tower with the original CLIP (CLIPSelf's release recipe).

Writes a complete open_clip checkpoint: image tower ``alpha * student + (1 - alpha) * teacher``,
text tower and ``logit_scale`` from the original CLIP.

Examples:
    python tools/model_converters/ensemble.py work_dirs/clipself/iter_60000.pth \\
        checkpoints/EVA02_CLIP_B_psz16_s8B.pt --arch EVA02-B-16 --alpha 0.7 --out eva02_b16_clipself.pt
    python tools/model_converters/ensemble.py distilled_open_clip.pt ViT-L-14.pt --arch ViT-L-14 \\
        --alpha 0.95 --student-prefix '' --out vit_l14_ensemble.pt
"""
import argparse
import importlib.util
import os.path as osp
import sys


def _import_mmdistill() -> None:
    if importlib.util.find_spec('mmdistill') is None:  # running from a source checkout
        sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))


_import_mmdistill()

from mmdistill.clip.ensemble import ensemble_checkpoints  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Ensemble a distilled CLIP image tower with the original CLIP.')
    parser.add_argument('student', help='distiller checkpoint (mmengine) or open_clip-format file')
    parser.add_argument('original', help='the original CLIP checkpoint (open_clip / OpenAI / EVA-CLIP layout)')
    parser.add_argument('--arch', required=True, help='open_clip architecture, e.g. EVA02-B-16')
    parser.add_argument('--alpha', type=float, required=True,
                        help='weight of the student in [0, 1] (CLIPSelf: 0.7 for ViT-B, 0.95 for ViT-L)')
    parser.add_argument('--student-prefix', default='student.',
                        help="prefix of the student tower's keys in the distiller checkpoint (default: student.)")
    parser.add_argument('--out', required=True, help='output open_clip checkpoint (.pt)')
    return parser.parse_args(argv)


def main(argv=None) -> str:
    args = parse_args(argv)
    out = ensemble_checkpoints(args.student, args.original, args.arch, args.out, args.alpha,
                               student_prefix=args.student_prefix)
    print(f'ensemble (alpha {args.alpha}) of {args.student} and {args.original} written to {out}')
    return out


if __name__ == '__main__':
    main()
