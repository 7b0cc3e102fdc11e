"""Write class-agnostic proposals (COCO-results JSON) for every image of a COCO annotation file.

Runs any mmdet RPN config + checkpoint through mmengine's test loop; the
``ProposalDumpMetric`` gathers the boxes of all ranks and rank 0 writes the file.

Examples:
    python tools/misc/rpn_proposals.py configs/rpn/rpn_r50_fpn_1x_coco_base.py work_dirs/rpn/epoch_12.pth \\
        --ann-file data/coco/annotations/instances_train2017.json --img-dir data/coco/train2017 \\
        --out data/coco/proposals/rpn_coco_base_train2017.json --max-per-img 1000
    torchrun --nproc_per_node 8 tools/misc/rpn_proposals.py CONFIG CHECKPOINT --ann-file ANN --img-dir DIR \\
        --out OUT.json --launcher pytorch
"""
import argparse
import importlib.util
import json
import os
import os.path as osp
import sys
from typing import Optional


def _import_mmdistill() -> None:
    """Import mmdistill first, so its compat fixes apply before any config is read."""
    if importlib.util.find_spec('mmdistill') is None:  # running from a source checkout
        sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
    import mmdistill  # noqa: F401
    import mmdistill.datasets.proposals  # noqa: F401  (registers ProposalDumpMetric)


_import_mmdistill()

from mmengine.config import Config, DictAction  # noqa: E402
from mmengine.dist import get_world_size, is_main_process  # noqa: E402
from mmengine.hooks import Hook  # noqa: E402
from mmengine.runner import Runner  # noqa: E402
from mmengine.utils import ProgressBar  # noqa: E402


class ProgressBarHook(Hook):
    """A progress bar over the images of the test loop (main process only)."""

    priority = 'VERY_LOW'

    def __init__(self) -> None:
        self.bar: Optional[ProgressBar] = None

    def before_test(self, runner) -> None:
        if is_main_process():
            self.bar = ProgressBar(len(runner.test_loop.dataloader.dataset))

    def after_test_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        if self.bar is not None:
            self.bar.update(len(outputs) * get_world_size())
            if self.bar.completed >= self.bar.task_num:
                self.bar.file.write('\n')


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Write RPN proposals of a COCO-format image set as JSON.')
    parser.add_argument('config', help='mmdet RPN config (any detector whose predictions are proposals)')
    parser.add_argument('checkpoint', help='checkpoint of the RPN')
    parser.add_argument('--ann-file', required=True, help='COCO-format annotation file listing the images')
    parser.add_argument('--img-dir', required=True, help='folder of the images (file_name of the annotations)')
    parser.add_argument('--out', required=True, help='output proposals JSON')
    parser.add_argument('--max-per-img', type=int, default=1000, help='proposals kept per image (top-N by score)')
    parser.add_argument('--score-thr', type=float, default=0.0, help='minimum proposal score')
    parser.add_argument('--nms-iou', type=float, help='IoU of an extra class-agnostic NMS (default: the model\'s)')
    parser.add_argument('--batch-size', type=int, default=4, help='images per GPU and step')
    parser.add_argument('--num-workers', type=int, default=2, help='data loading workers per GPU')
    parser.add_argument('--work-dir', help='logs go here (default: work_dirs/rpn_proposals/<config name>)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override settings of the config, e.g. model.test_cfg.rpn.nms.iou_threshold=0.5')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none', help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def setup_cfg(args: argparse.Namespace) -> Config:
    """The config with its test set, loader and evaluator pointed at the images and the JSON."""
    for what, path in (('checkpoint', args.checkpoint), ('annotation file', args.ann_file)):
        if not osp.isfile(path):
            raise FileNotFoundError(f'{what} {path!r} not found')
    if not osp.isdir(args.img_dir):
        raise FileNotFoundError(f'image folder {args.img_dir!r} not found')
    cfg = Config.fromfile(args.config)
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    cfg.launcher = args.launcher
    cfg.load_from = args.checkpoint
    cfg.resume = False
    cfg.work_dir = args.work_dir or osp.join('work_dirs', 'rpn_proposals', osp.splitext(osp.basename(args.config))[0])

    loader = cfg.test_dataloader
    loader.batch_size = args.batch_size
    loader.num_workers = args.num_workers
    loader.persistent_workers = args.num_workers > 0
    # Every image of the annotation file, in test mode (nothing filtered out).
    loader.dataset.update(data_root='', ann_file=osp.abspath(args.ann_file),
                          data_prefix=dict(img=osp.abspath(args.img_dir)), test_mode=True)
    rpn_test_cfg = cfg.model.get('test_cfg', {}).get('rpn')
    if rpn_test_cfg is not None and rpn_test_cfg.get('max_per_img', 0) < args.max_per_img:
        rpn_test_cfg.max_per_img = args.max_per_img  # the model must not cap below top-N
    cfg.test_evaluator = dict(type='mmdistill.ProposalDumpMetric', out_file=osp.abspath(args.out),
                              max_per_img=args.max_per_img, score_thr=args.score_thr, nms_iou=args.nms_iou,
                              ann_file=osp.abspath(args.ann_file))
    return cfg


def main(argv=None) -> dict:
    args = parse_args(argv)
    runner = Runner.from_cfg(setup_cfg(args))
    runner.register_hook(ProgressBarHook())
    metrics = runner.test()
    if is_main_process():
        print(f'proposals written to {args.out}: ' + json.dumps({k: float(v) for k, v in metrics.items()}),
              flush=True)
    return metrics


if __name__ == '__main__':
    main()
