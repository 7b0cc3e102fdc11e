"""Cost of Cat-Seg: training step time and peak memory, inference images/s with the config's test protocol.

The training step is the common benchmark profile (``mmdistill.engine.profiling``, median of ``--steps``
after one warm-up, synthetic images and label maps). Each measurement runs in a fresh process (peak memory
is the process's high-water mark; on CUDA, ``torch.cuda.max_memory_allocated``). On CPU both the wall time
and the process's CPU time are reported: with one thread and a shared machine, the CPU time is what the step
costs on an idle core. ``--random-weights`` builds both towers without checkpoints (ViT-B/16 at 384 without
downloading anything); the vocabulary is
``--classes`` made-up names.

    OMP_NUM_THREADS=1 python tools/analysis/benchmark_catseg.py \\
        configs/catseg/catseg_tinyclip-p12_1xb4-400_synthetic-96.py
    OMP_NUM_THREADS=1 python tools/analysis/benchmark_catseg.py \\
        configs/catseg/catseg_vit-b16-openai_1xb4-80k_coco-stuff171-384.py --random-weights --classes 171 \\
        --batch-size 1 --steps 2 --images 1
"""
from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import resource
import statistics
import time

import torch
from mmengine.config import DictAction


def rss_mib() -> float:
    with open('/proc/self/statm') as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2 ** 20


def build(args: argparse.Namespace):
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmseg.registry import MODELS

    import mmdistill  # noqa: F401
    init_default_scope('mmseg')
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    classes = [f'thing number {i}' for i in range(args.classes)]
    cfg.model.vocabulary.update(classes=classes, unseen_classes=None)
    if args.random_weights:
        cfg.model.tower.checkpoint = None
        cfg.model.vocabulary.text.checkpoint = None
    torch.manual_seed(0)
    return cfg, MODELS.build(cfg.model).to(args.device)


def measure(kind: str, args: argparse.Namespace, queue: mp.Queue) -> None:
    from mmengine.optim import build_optim_wrapper

    from mmdistill.engine.profiling import profile_training, repeat, synthetic_batch

    torch.set_num_threads(args.threads)
    cfg, model = build(args)
    size = tuple(cfg.model.data_preprocessor.size)
    cuda = args.device.startswith('cuda')
    base = rss_mib()
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    if kind == 'train':  # the common step profile (mmdistill.engine.profiling) on synthetic batches
        optim = build_optim_wrapper(model, cfg.optim_wrapper)
        batch = synthetic_batch('segmentor', args.batch_size, size, labels=range(args.classes))
        profile = profile_training(model, optim, repeat(batch), args.steps, 1, args.device, count_flops=False)
        seconds, cpu_seconds = profile.step_seconds, profile.cpu_step_seconds
    else:
        model.eval()
        test_size = tuple(cfg.model.test_cfg.get('size') or size)  # the protocol resizes to it anyway
        images = torch.randn(1, 3, *test_size, device=args.device)
        times, cpu_times = [], []
        with torch.no_grad():
            for _ in range(args.images + 1):
                start, cpu = time.perf_counter(), time.process_time()
                model(images, mode='tensor')
                if cuda:
                    torch.cuda.synchronize()
                times.append(time.perf_counter() - start)
                cpu_times.append(time.process_time() - cpu)
        seconds, cpu_seconds = statistics.mean(times[1:]), statistics.mean(cpu_times[1:])  # the first warms up
    peak = (torch.cuda.max_memory_allocated() / 2 ** 20 if cuda
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    queue.put(dict(kind=kind, seconds=seconds, cpu_seconds=cpu_seconds, peak_mib=peak,
                   model_mib=base, params_trainable=sum(p.numel() for p in model.parameters() if p.requires_grad)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('config')
    parser.add_argument('--classes', type=int, default=24, help='vocabulary size (training and test)')
    parser.add_argument('--batch-size', type=int, default=4, help='images per training step')
    parser.add_argument('--steps', type=int, default=5, help='timed training steps (after one warm-up)')
    parser.add_argument('--images', type=int, default=5, help='timed test images (after one warm-up)')
    parser.add_argument('--random-weights', action='store_true', help='build the towers without checkpoints')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--threads', type=int, default=1)
    parser.add_argument('--kinds', nargs='+', choices=('train', 'test'), default=['train', 'test'],
                        help='what to measure')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, metavar='KEY=VALUE',
                        help='config overrides, e.g. the memory options model.decode_head.with_cp=True '
                             'model.tower.grad_checkpointing=True model.vocabulary.text.grad_checkpointing=True')
    args = parser.parse_args()
    ctx = mp.get_context('spawn')
    results = {}
    for kind in args.kinds:
        queue = ctx.Queue()
        proc = ctx.Process(target=measure, args=(kind, args, queue))
        proc.start()
        results[kind] = queue.get()
        proc.join()
    summary = dict(config=args.config, device=args.device, threads=args.threads, classes=args.classes,
                   batch_size=args.batch_size, cfg_options=args.cfg_options or {})
    if 'train' in results:
        train = results['train']
        summary.update(train_step_s=round(train['seconds'], 3), train_step_cpu_s=round(train['cpu_seconds'], 3),
                       train_peak_mib=round(train['peak_mib']), model_mib=round(train['model_mib']),
                       trainable_params=train['params_trainable'])
    if 'test' in results:
        test = results['test']
        summary.update(test_image_s=round(test['seconds'], 3), test_image_cpu_s=round(test['cpu_seconds'], 3),
                       test_images_per_cpu_s=round(1 / test['cpu_seconds'], 3),
                       test_peak_mib=round(test['peak_mib']))
    print(json.dumps(summary))


if __name__ == '__main__':
    main()
