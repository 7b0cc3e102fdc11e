"""Arguments shared by the analysis commands: towers and the image set."""
from __future__ import annotations

import argparse

from .data import ImageSet, load_image_set, world_image_set
from .encoders import WORLD_ARCH, DenseEncoder, load_encoder, parse_tower_specs

TOWER_HELP = ('a tower as NAME=SPEC (repeatable); SPEC: an open_clip checkpoint of --arch (file, pretrained tag, '
              'hf-hub: id), refiner:CHECKPOINT (a Refiner-stage checkpoint), a config .py with `tower` / '
              '`model.tower`, or random. Default: the towers the quickstart cached under --work-dir')


def add_common_args(parser: argparse.ArgumentParser, size: int = 192, labels: bool = True) -> None:
    """``--tower``, ``--arch``, ``--work-dir``, the image set (the world's split, or folders), ``--size``."""
    parser.add_argument('--tower', action='append', metavar='NAME=SPEC', help=TOWER_HELP)
    parser.add_argument('--arch', default=WORLD_ARCH, help='open_clip architecture of checkpoint specs')
    parser.add_argument('--work-dir', default='work_dirs/quickstart', help="the quickstart's work dir")
    parser.add_argument('--no-refiner', action='store_true', help='leave the quickstart Refiner out')
    parser.add_argument('--world', default='data/synthetic_world', help='synthetic world (semantic split)')
    parser.add_argument('--split', default='val')
    parser.add_argument('--img-dir', help='a folder of images instead of the world (e.g. COCO val2017)')
    if labels:
        parser.add_argument('--ann-dir', help='label maps of --img-dir (same stem, .png)')
        parser.add_argument('--classes', nargs='+', default=(), help='class names of the label ids of --ann-dir')
    parser.add_argument('--num-images', type=int, help='first N images of the set (default: all)')
    parser.add_argument('--size', type=int, default=size, help='images are resized to SIZE x SIZE')


def load_towers(args: argparse.Namespace) -> dict[str, DenseEncoder]:
    """Encoders of ``--tower`` (or the quickstart's), by name."""
    specs = parse_tower_specs(args.tower, args.work_dir, refiner=not args.no_refiner)
    return {name: load_encoder(spec, args.arch) for name, spec in specs.items()}


def load_data(args: argparse.Namespace) -> ImageSet:
    """The image set of ``--img-dir`` / ``--ann-dir``, or the world's ``--split``."""
    if args.img_dir:
        return load_image_set(args.img_dir, args.size, ann_dir=getattr(args, 'ann_dir', None),
                              num=args.num_images, class_names=getattr(args, 'classes', ()))
    return world_image_set(args.world, args.size, args.split, args.num_images)
