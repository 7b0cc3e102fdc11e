"""Tests of the synthetic world: determinism, annotation consistency, context statistics, splits."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO

from mmdistill.datasets.synthetic import (
    CLOSEUP_PROB,
    COOCCURRING_THINGS,
    NATIVE_THINGS,
    STUFF_CLASSES,
    THING_CLASSES,
    THING_PARTS,
    SceneConfig,
    generate_world,
    image_rng,
    load_world_meta,
    make_splits,
    render_scene,
    world_is_complete,
)

SIZES = dict(num_train=24, num_val=8)


def _generate(root: Path, seed: int = 0, workers: int = 2) -> dict:
    return generate_world(root, seed=seed, workers=workers, progress=False, **SIZES)


def _digests(root: Path) -> dict:
    files = sorted(p for p in root.rglob('*') if p.is_file() and not p.is_symlink())
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


def _panoptic_ids(path: Path) -> np.ndarray:
    rgb = np.asarray(Image.open(path), dtype=np.int64)
    return rgb[..., 0] + 256 * rgb[..., 1] + 256 ** 2 * rgb[..., 2]


@pytest.fixture(scope='module')
def world(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp('world')
    _generate(root)
    return root


@pytest.fixture(scope='module')
def scenes() -> list:
    cfg = SceneConfig()
    return [render_scene(image_rng(7, 'train', i), cfg) for i in range(600)]


def test_same_seed_gives_identical_files_for_any_worker_count(world, tmp_path):
    _generate(tmp_path / 'again', workers=1)
    reference = _digests(world)
    assert len(reference) == 3 * sum(SIZES.values()) + 4 * 2 + 2 + 1  # PNGs, split JSONs, splits, meta
    assert _digests(tmp_path / 'again') == reference


def test_other_seed_gives_other_files(world, tmp_path):
    _generate(tmp_path / 'other', seed=1)
    reference, other = _digests(world), _digests(tmp_path / 'other')
    assert reference.keys() == other.keys()
    images = [k for k in reference if k.startswith('train2017/')]
    assert all(reference[k] != other[k] for k in images)


def test_completeness_and_reuse(world, tmp_path):
    assert world_is_complete(world, seed=0, image_size=96, **SIZES)
    assert not world_is_complete(world, seed=1)
    assert not world_is_complete(tmp_path)
    meta_mtime = (world / 'meta.json').stat().st_mtime_ns
    assert _generate(world) == load_world_meta(world)
    assert (world / 'meta.json').stat().st_mtime_ns == meta_mtime
    copy = tmp_path / 'copy'
    _generate(copy)
    next((copy / 'val2017').iterdir()).unlink()
    assert not world_is_complete(copy)


@pytest.mark.parametrize('split', ['train', 'val'])
def test_annotations_are_consistent(world, split):
    instances = COCO(str(world / f'annotations/instances_{split}2017.json'))
    panoptic = json.loads((world / f'annotations/panoptic_{split}2017.json').read_text())
    num_things = len(THING_CLASSES)
    assert [c['name'] for c in instances.loadCats(instances.getCatIds())] == list(THING_CLASSES)
    assert [c['isthing'] for c in panoptic['categories']] == [1] * num_things + [0] * len(STUFF_CLASSES)
    assert len(instances.getImgIds()) == SIZES[f'num_{split}']
    for pan in panoptic['annotations']:
        ids = _panoptic_ids(world / f'annotations/panoptic_{split}2017' / pan['file_name'])
        segments = {s['id']: s for s in pan['segments_info']}
        assert ids.min() > 0 and set(np.unique(ids).tolist()) == set(segments)
        for seg_id, seg in segments.items():
            mask = ids == seg_id
            assert seg['area'] == mask.sum()
            assert seg['bbox'] == _tight_box(mask)
        anns = instances.loadAnns(instances.getAnnIds(imgIds=pan['image_id']))
        assert len(anns) == sum(s['category_id'] <= num_things for s in segments.values())
        for ann in anns:
            mask = mask_utils.decode(ann['segmentation']).astype(bool)
            seg = segments[int(ids[mask][0])]
            assert np.array_equal(mask, ids == seg['id'])
            assert ann['category_id'] == seg['category_id']
            assert ann['area'] == seg['area'] == mask_utils.area(ann['segmentation'])
            assert ann['bbox'] == seg['bbox'] == mask_utils.toBbox(ann['segmentation']).tolist()
        semantic = np.asarray(Image.open(world / f'semantic/annotations/{split}' / pan['file_name']))
        lut = np.zeros(ids.max() + 1, dtype=np.int64)
        lut[list(segments)] = [s['category_id'] - 1 for s in segments.values()]
        assert semantic.dtype == np.uint8 and np.array_equal(semantic, lut[ids])
        image = Image.open(world / f'semantic/images/{split}' / pan['file_name'])
        assert image.mode == 'RGB' and image.size == (96, 96)


def _tight_box(mask: np.ndarray) -> list:
    ys, xs = np.nonzero(mask)
    return [int(xs.min()), int(ys.min()), int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1)]


@pytest.mark.parametrize('split', ['train', 'val'])
def test_captions_name_everything_present(world, split):
    captions = COCO(str(world / f'annotations/captions_{split}2017.json'))
    instances = COCO(str(world / f'annotations/instances_{split}2017.json'))
    panoptic = json.loads((world / f'annotations/panoptic_{split}2017.json').read_text())
    for pan in panoptic['annotations']:
        texts = [a['caption'] for a in captions.loadAnns(captions.getAnnIds(imgIds=pan['image_id']))]
        assert 2 <= len(texts) <= 5
        joined = ' | '.join(texts)
        for ann in instances.loadAnns(instances.getAnnIds(imgIds=pan['image_id'])):
            assert THING_CLASSES[ann['category_id'] - 1] in joined
        stuff = [s for s in pan['segments_info'] if s['category_id'] > len(THING_CLASSES)]
        main = max(stuff, key=lambda s: s['area'])
        assert STUFF_CLASSES[main['category_id'] - len(THING_CLASSES) - 1] in joined


def test_in_context_flags_follow_the_affinity_tables(world):
    partners = {t: {b for a, b in COOCCURRING_THINGS if a == t} | {a for a, b in COOCCURRING_THINGS if b == t}
                for t in THING_CLASSES}
    data = json.loads((world / 'annotations/instances_train2017.json').read_text())
    by_image: dict = {}
    for ann in data['annotations']:
        by_image.setdefault(ann['image_id'], []).append(ann)
    for anns in by_image.values():
        names = [THING_CLASSES[a['category_id'] - 1] for a in anns]
        for k, ann in enumerate(anns):
            others = set(names[:k] + names[k + 1:])
            expected = names[k] in NATIVE_THINGS[ann['context_stuff']] or bool(partners[names[k]] & others)
            assert ann['in_context'] is expected


def test_context_statistics(scenes):
    cfg = SceneConfig()
    flags = [f for s in scenes for f in s.in_context]
    assert abs(np.mean(flags) - cfg.in_context_prob) < 0.05
    closeups = sum(s.closeup for s in scenes) / len(scenes)
    assert abs(closeups - cfg.closeup_prob) < 0.05
    areas = np.array([int(s.instance_mask(k).sum()) for s in scenes for k in range(len(s.classes))])
    assert (areas < 16 ** 2).mean() > 0.2 and (areas > 30 ** 2).any()
    counts = np.bincount([len(s.classes) for s in scenes if not s.closeup], minlength=6)
    assert counts[0] == 0 and counts[1:6].min() > 0
    seen = {c for s in scenes for c in s.classes}
    assert seen == set(range(len(THING_CLASSES)))


def test_rendered_scene_invariants(scenes):
    cfg = SceneConfig()
    for scene in scenes[:200]:
        assert scene.image.shape == (96, 96, 3) and scene.image.dtype == np.uint8
        for k in range(len(scene.classes)):
            assert scene.instance_mask(k).sum() >= cfg.min_visible_fraction * scene.full_areas[k]
        assert 1 <= len(np.unique(scene.stuff_map)) <= 3
        if scene.closeup:
            assert len(scene.classes) == 1 and max(_tight_box(scene.instance_mask(0))[2:]) >= 0.45 * 96


def test_split_files_match_meta(world):
    ov = json.loads((world / 'splits/ov_detection.json').read_text())
    zs = json.loads((world / 'splits/zero_shot_segmentation.json').read_text())
    assert load_world_meta(world)['splits'] == {'ov_detection': ov, 'zero_shot_segmentation': zs} == make_splits(0)


@pytest.mark.parametrize('seed', range(40))
def test_splits_are_disjoint_covering_and_compositional(seed):
    ov, zs = make_splits(seed)['ov_detection'], make_splits(seed)['zero_shot_segmentation']
    assert not set(ov['base']) & set(ov['novel']) and set(ov['base']) | set(ov['novel']) == set(THING_CLASSES)
    assert len(ov['novel']) == round(0.25 * len(THING_CLASSES))
    everything = set(THING_CLASSES) | set(STUFF_CLASSES)
    assert not set(zs['seen']) & set(zs['unseen']) and set(zs['seen']) | set(zs['unseen']) == everything
    assert set(zs['unseen']) & set(STUFF_CLASSES) and set(zs['unseen']) & set(THING_CLASSES)
    parts = dict(zip(THING_CLASSES, THING_PARTS))
    base_parts = {p for name in ov['base'] for p in parts[name]}
    assert all(set(parts[name]) <= base_parts for name in ov['novel'])


def test_proposals_cover_objects(world):
    instances = COCO(str(world / 'annotations/instances_val2017.json'))
    proposals = json.loads((world / 'proposals/proposals_val2017.json').read_text())
    by_image: dict = {}
    for p in proposals:
        assert p['category_id'] == 1 and 0 < p['score'] < 1
        x, y, w, h = p['bbox']
        assert x >= 0 and y >= 0 and w > 0 and h > 0 and x + w <= 96 and y + h <= 96
        by_image.setdefault(p['image_id'], []).append(p)
    assert set(by_image) == set(instances.getImgIds())
    for image_id, props in by_image.items():
        scores = [p['score'] for p in props]
        assert scores == sorted(scores, reverse=True)
        gts = [a['bbox'] for a in instances.loadAnns(instances.getAnnIds(imgIds=image_id))]
        ious = mask_utils.iou([p['bbox'] for p in props], gts, [0] * len(gts))
        assert ious.max(axis=0).min() > 0.5
        assert np.corrcoef(ious.max(axis=1), scores)[0, 1] > 0.5


def test_stock_openmmlab_datasets_read_the_world(world):
    import mmdet.datasets as mmdet_datasets
    import mmdet.datasets.transforms as mmdet_transforms
    import mmseg.datasets as mmseg_datasets
    common = dict(data_root=str(world), pipeline=[], test_mode=True)
    detection = mmdet_datasets.CocoDataset(
        ann_file='annotations/instances_val2017.json', data_prefix=dict(img='val2017/'),
        metainfo=dict(classes=THING_CLASSES), **common)
    assert len(detection) == SIZES['num_val']
    assert sum(len(detection[i]['instances']) for i in range(len(detection))) == len(
        json.loads((world / 'annotations/instances_val2017.json').read_text())['annotations'])
    loaded = mmdet_transforms.LoadAnnotations(with_mask=True)(
        dict(detection[0], ori_shape=(96, 96)))
    assert not loaded['gt_ignore_flags'].any()
    assert loaded['gt_masks'].masks.sum() == sum(inst['area'] for inst in _val_instances(world, 1))
    panoptic = mmdet_datasets.CocoPanopticDataset(
        ann_file='annotations/panoptic_val2017.json',
        data_prefix=dict(img='val2017/', seg='annotations/panoptic_val2017/'),
        metainfo=dict(classes=THING_CLASSES + STUFF_CLASSES, thing_classes=THING_CLASSES,
                      stuff_classes=STUFF_CLASSES), **common)
    assert len(panoptic) == SIZES['num_val'] and panoptic[0]['seg_map_path'].endswith('.png')
    semantic = mmseg_datasets.BaseSegDataset(
        data_prefix=dict(img_path='semantic/images/val', seg_map_path='semantic/annotations/val'),
        img_suffix='.png', seg_map_suffix='.png', metainfo=dict(classes=THING_CLASSES + STUFF_CLASSES),
        **common)
    assert len(semantic) == SIZES['num_val']
    assert Path(semantic[0]['seg_map_path']).name == Path(semantic[0]['img_path']).name


def _val_instances(world: Path, image_id: int) -> list:
    data = json.loads((world / 'annotations/instances_val2017.json').read_text())
    return [a for a in data['annotations'] if a['image_id'] == image_id]


def test_train_split_is_rich_in_closeups_and_val_keeps_the_scene_mix(world):
    scene_params = json.loads((world / 'meta.json').read_text())['params']['scene']
    assert scene_params['train']['closeup_prob'] == CLOSEUP_PROB['train'] == 0.55
    assert scene_params['val']['closeup_prob'] == CLOSEUP_PROB['val'] == 0.25
    for split in ('train', 'val'):
        cfg = SceneConfig(closeup_prob=CLOSEUP_PROB[split])
        # the written images are the scenes of their split's own config
        images = json.loads((world / f'annotations/captions_{split}2017.json').read_text())['images']
        assert [im['closeup'] for im in images] == \
            [render_scene(image_rng(0, split, im['id'] - 1), cfg).closeup for im in images]
        share = np.mean([render_scene(image_rng(5, split, i), cfg).closeup for i in range(400)])
        assert abs(share - CLOSEUP_PROB[split]) < 0.06
