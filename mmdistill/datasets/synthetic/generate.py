"""Generation of a whole world on disk, in parallel, reproducibly (each image seeded by seed, split, index)."""
from __future__ import annotations

import json
import multiprocessing
import os
import shutil
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Iterator, List, Sequence

import numpy as np

from .annotations import id_to_rgb, instance_records, panoptic_ids, panoptic_segments
from .captions import make_captions
from .proposals import make_proposals
from .scene import SceneConfig, render_scene
from .splits import make_splits
from .vocabulary import STUFF_CLASSES, THING_CLASSES, affinity_tables
from .writers import (
    captions_document,
    instances_document,
    panoptic_document,
    proposals_document,
    write_json,
    write_png,
)

GENERATOR_VERSION = '1.2'
SPLITS = ('train', 'val')
SPLIT_STREAMS = {'train': 0, 'val': 1}
DEFAULT_NUM_TRAIN = 12000
DEFAULT_NUM_VAL = 1000
SMALL_SIDE = 16  # an instance is "small" below (16 * image_size / 96)^2 visible pixels
IGNORE_INDEX = 255
OWNED_PATHS = ('meta.json', 'train2017', 'val2017', 'annotations', 'semantic', 'proposals', 'splits')
WORLD_PARAMS = ('seed', 'num_train', 'num_val', 'image_size')
# Share of single-object close-ups per split. The train split is rich in object-centric pictures (as
# web image-text data is), which is what teaches the tiny CLIP to recognise an object cropped on its own;
# the val split keeps the scene-heavy mix that the dense readouts are measured on.
CLOSEUP_PROB = {'train': 0.55, 'val': 0.25}


def image_rng(seed: int, split: str, index: int) -> np.random.Generator:
    """The random stream of one image; independent of worker count and of the other images."""
    return np.random.default_rng(np.random.SeedSequence([seed, SPLIT_STREAMS[split], index]))


def file_name(index: int) -> str:
    """COCO-like file name of the image with 0-based `index` (image id = index + 1)."""
    return f'{index + 1:012d}.png'


def layout(split: str) -> dict:
    """Paths (relative to the world root) of the files of one split."""
    return {
        'images': f'{split}2017',
        'instances': f'annotations/instances_{split}2017.json',
        'captions': f'annotations/captions_{split}2017.json',
        'panoptic': f'annotations/panoptic_{split}2017.json',
        'panoptic_masks': f'annotations/panoptic_{split}2017',
        'semantic_images': f'semantic/images/{split}',
        'semantic_masks': f'semantic/annotations/{split}',
        'proposals': f'proposals/proposals_{split}2017.json',
    }


@dataclass(frozen=True)
class _SplitJob:
    root: str
    split: str
    seed: int
    cfg: SceneConfig


def _render_image(job: _SplitJob, index: int) -> dict:
    """Render one image, write its PNGs and return its annotation record."""
    rng = image_rng(job.seed, job.split, index)
    scene = render_scene(rng, job.cfg)
    captions = make_captions(rng, scene, job.cfg)
    instances = instance_records(scene)
    proposals = make_proposals(rng, np.array([inst['bbox'] for inst in instances]), job.cfg.image_size)
    ids, stuffs = panoptic_ids(scene)
    paths, name = layout(job.split), file_name(index)
    root = Path(job.root)
    write_png(root / paths['images'] / name, scene.image)
    write_png(root / paths['panoptic_masks'] / name, id_to_rgb(ids))
    write_png(root / paths['semantic_masks'] / name, scene.semantic_map)
    return {'image_id': index + 1, 'file_name': name, 'closeup': scene.closeup, 'instances': instances,
            'segments': panoptic_segments(scene, ids, stuffs), 'captions': captions, 'proposals': proposals}


def _prepare_dirs(root: Path) -> None:
    """Remove what an earlier run left and create the folders of a world."""
    for owned in OWNED_PATHS:
        path = root / owned
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        elif path.exists() or path.is_symlink():
            path.unlink()
    for split in SPLITS:
        paths = layout(split)
        for key in ('images', 'panoptic_masks', 'semantic_masks'):
            (root / paths[key]).mkdir(parents=True, exist_ok=True)
        # mmseg layout without a second copy of the images: a relative link to <split>2017.
        (root / paths['semantic_images']).parent.mkdir(parents=True, exist_ok=True)
        os.symlink(os.path.join('..', '..', paths['images']), root / paths['semantic_images'])
    for folder in ('proposals', 'splits'):
        (root / folder).mkdir(exist_ok=True)


def _records(job: _SplitJob, count: int, pool, workers: int, progress: bool) -> List[dict]:
    """Records of all images of a split, in index order."""
    render = partial(_render_image, job)
    if pool is None:
        results: Iterator[dict] = map(render, range(count))
    else:
        results = pool.imap(render, range(count), chunksize=max(1, min(64, count // (8 * workers))))
    if progress:
        from tqdm import tqdm
        results = tqdm(results, total=count, desc=f'{job.split} images', unit='img')
    return list(results)


def _split_counts(records: Sequence[dict], small_area: int) -> dict:
    instances = [inst for r in records for inst in r['instances']]
    in_context = sum(inst['in_context'] for inst in instances)
    return {
        'images': len(records),
        'instances': len(instances),
        'in_context_instances': in_context,
        'in_context_fraction': round(in_context / max(len(instances), 1), 4),
        'small_instances': sum(inst['area'] < small_area for inst in instances),
        'closeups': sum(r['closeup'] for r in records),
        'captions': sum(len(r['captions']) for r in records),
        'proposals': sum(len(r['proposals']) for r in records),
    }


def _write_split(root: Path, split: str, records: Sequence[dict], image_size: int) -> None:
    paths = layout(split)
    write_json(root / paths['instances'], instances_document(records, image_size))
    write_json(root / paths['captions'], captions_document(records, image_size))
    write_json(root / paths['panoptic'], panoptic_document(records, image_size))
    write_json(root / paths['proposals'], proposals_document(records))


def _pool(workers: int):
    """A process pool of `workers` processes, or None to render in this process."""
    if workers <= 1:
        return None
    method = 'fork' if 'fork' in multiprocessing.get_all_start_methods() else 'spawn'
    return multiprocessing.get_context(method).Pool(workers)


def generate_world(out_dir: str | os.PathLike, seed: int = 0, num_train: int = DEFAULT_NUM_TRAIN,
                   num_val: int = DEFAULT_NUM_VAL, image_size: int = 96, workers: int = 2,
                   force: bool = False, progress: bool = True) -> dict:
    """Generate (or reuse, unless `force`) the world at `out_dir`; return its meta."""
    root = Path(out_dir)
    params = {'seed': seed, 'num_train': num_train, 'num_val': num_val, 'image_size': image_size}
    if not force and world_is_complete(root, **params):
        return load_world_meta(root)
    root.mkdir(parents=True, exist_ok=True)
    _prepare_dirs(root)
    cfgs = {split: SceneConfig(image_size=image_size, closeup_prob=CLOSEUP_PROB[split]) for split in SPLITS}
    small_area = round((SMALL_SIDE * cfgs['val'].scale) ** 2)
    counts = {}
    pool = _pool(workers)
    try:
        for split, count in zip(SPLITS, (num_train, num_val)):
            records = _records(_SplitJob(str(root), split, seed, cfgs[split]), count, pool, workers, progress)
            _write_split(root, split, records, image_size)
            counts[split] = _split_counts(records, small_area)
    finally:
        if pool is not None:
            pool.close()
            pool.join()
    splits = make_splits(seed)
    for name, split in splits.items():
        write_json(root / 'splits' / f'{name}.json', split)
    meta = {
        'generator_version': GENERATOR_VERSION, 'seed': seed,
        'params': dict(params, scene={split: asdict(cfg) for split, cfg in cfgs.items()}),
        'thing_classes': list(THING_CLASSES), 'stuff_classes': list(STUFF_CLASSES),
        'semantic_classes': list(THING_CLASSES + STUFF_CLASSES), 'ignore_index': IGNORE_INDEX,
        'small_area': small_area, 'affinity': affinity_tables(), 'splits': splits, 'counts': counts,
        'layout': {split: layout(split) for split in SPLITS},
    }
    write_json(root / 'meta.json', meta)  # written last: marks the world complete
    return meta


def load_world_meta(root: str | os.PathLike) -> dict:
    """meta.json of a generated world."""
    return json.loads((Path(root) / 'meta.json').read_text(encoding='utf-8'))


def world_is_complete(root: str | os.PathLike, **params) -> bool:
    """True when the world at `root` is fully written (and made with the given seed / sizes, if any)."""
    unknown = set(params) - set(WORLD_PARAMS)
    if unknown:
        raise TypeError(f'unknown world parameters: {sorted(unknown)}')
    root = Path(root)
    try:
        meta = load_world_meta(root)
    except (OSError, ValueError):
        return False
    if meta.get('generator_version') != GENERATOR_VERSION:
        return False
    if any(meta['params'].get(k) != v for k, v in params.items()):
        return False
    try:
        return all(_split_complete(root, split, meta['params'][f'num_{split}']) for split in SPLITS)
    except OSError:
        return False


def _split_complete(root: Path, split: str, num_images: int) -> bool:
    """All JSON files exist and every image folder holds `num_images` files."""
    paths = layout(split)
    if not all((root / paths[k]).is_file() for k in ('instances', 'captions', 'panoptic', 'proposals')):
        return False
    folders = ('images', 'semantic_images', 'panoptic_masks', 'semantic_masks')
    return all(len(os.listdir(root / paths[k])) == num_images for k in folders)
