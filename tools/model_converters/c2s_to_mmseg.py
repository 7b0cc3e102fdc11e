"""Export a trained C2S student as a stock mmseg model: no CLIP, no extra parameter, the full test vocabulary.

The text embeddings of the config's classes are folded into the decode head's ``conv_seg``; the written
config is a plain mmseg ``EncoderDecoder`` (no ``custom_imports``), tested with mmseg's ``IoUMetric``.

Example:
    python tools/model_converters/c2s_to_mmseg.py configs/c2s/c2s_segformer-mit-b0_1xb16-1k_synthetic-96.py \\
        work_dirs/c2s/iter_1000.pth --out-dir work_dirs/c2s/export
    python tools/test.py work_dirs/c2s/export/c2s_segformer-mit-b0_1xb16-1k_synthetic-96_mmseg.py \\
        work_dirs/c2s/export/c2s_segformer-mit-b0_1xb16-1k_synthetic-96_mmseg.pth
"""
import argparse
import importlib.util
import os.path as osp
import sys


def _import_mmdistill() -> None:
    if importlib.util.find_spec('mmdistill') is None:  # running from a source checkout
        sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))


_import_mmdistill()

from mmengine.config import DictAction  # noqa: E402

from mmdistill.seg.c2s.export import export_c2s  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Export a C2S student as a stock mmseg model.')
    parser.add_argument('config', help='the C2S training config')
    parser.add_argument('checkpoint', help='a checkpoint of that config')
    parser.add_argument('--out-dir', required=True, help='folder for <name>_mmseg.pth and <name>_mmseg.py')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config keys, e.g. model.vocabulary.classes=...')
    return parser.parse_args(argv)


def main(argv=None) -> tuple[str, str]:
    args = parse_args(argv)
    weights, config = export_c2s(args.config, args.checkpoint, args.out_dir, args.cfg_options)
    print(f'stock mmseg student written: {weights}\ntest config: {config}')
    return weights, config


if __name__ == '__main__':
    main()
