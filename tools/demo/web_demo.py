"""A web page for open-vocabulary detection and segmentation of your images with your class names (Gradio).

    python tools/demo/web_demo.py                      # the main job's models (after bash tools/quickstart.sh)
    python tools/demo/web_demo.py --port 7861 --work-dir work_dirs/quickstart --world data/synthetic_world
    python tools/demo/web_demo.py \
        --config configs/fvit/fvit_eva02-b16_fpn_8xb8-3e_ov-coco-640.py --checkpoint fvit.pth \
        --config configs/maskclip/maskclip_vit-b16-openai_voc21-336.py   # any models: each --config takes the
                                                                        # --checkpoint after it (none: training-free)

Serves on 127.0.0.1 (``--host 0.0.0.0`` to share it on the network): upload an image or pick one of the
world's val images, type class names (comma-separated, synonyms of a class joined by ';'), choose the task
and model (F-ViT detection, training-free segmentation with a readout, Cat-Seg, the C2S student) and the
tower. The page shows the overlay, its legend, the per-class scores, and the affinity map of a clicked point.
"""
import argparse
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
os.environ.setdefault('GRADIO_ANALYTICS_ENABLED', 'False')

import torch  # noqa: E402

from mmdistill.apis.web_demo import WebDemo, config_model, quickstart_models, world_examples  # noqa: E402


class ConfigAction(argparse.Action):
    """``--config PATH`` starts a model; ``--checkpoint PATH`` gives the last one its weights."""

    def __call__(self, parser, namespace, value, option_string=None):
        models = getattr(namespace, 'models', None) or []
        if option_string == '--config':
            models.append([value, None])
        elif not models or models[-1][1] is not None:
            parser.error('--checkpoint must follow the --config it belongs to')
        else:
            models[-1][1] = value
        namespace.models = models


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--config', action=ConfigAction, dest='models', default=[],
                        help='a model config (F-ViT, ZeroShotSegmentor, CatSegSegmentor, C2SSegmentor); repeatable')
    parser.add_argument('--checkpoint', action=ConfigAction, dest='models', help='weights of the --config before it')
    parser.add_argument('--work-dir', default='work_dirs/quickstart', help="the main job's run folder")
    parser.add_argument('--world', default='data/synthetic_world', help='the synthetic world (example images)')
    parser.add_argument('--host', default='127.0.0.1')
    parser.add_argument('--port', type=int, default=7860)
    parser.add_argument('--device', default=None, help='e.g. cuda:0 or cpu (default: cuda if available)')
    parser.add_argument('--threads', type=int, default=None,
                        help="torch's CPU threads (default: torch's; 1 is fastest on a busy machine, "
                             'docs/benchmarks.md)')
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.models:
        models = [config_model(config, checkpoint) for config, checkpoint in args.models]
    else:
        try:
            models = quickstart_models(args.work_dir, args.world)
        except FileNotFoundError as exc:
            sys.exit(f'web_demo: {exc}')
    print(f'{len(models)} models: ' + '; '.join(f'{m.kind} / {m.tower}' for m in models))
    print(f'serving on http://{args.host}:{args.port} (Ctrl+C stops it)', flush=True)
    WebDemo(models, device=args.device).serve(world_examples(args.world), args.host, args.port, quiet=True)


if __name__ == '__main__':
    main()
