"""LoadImageFromFileCached: same images as mmcv's loader, each file decoded once."""
import os

import numpy as np
from mmcv.transforms import LoadImageFromFile

import mmdistill  # noqa: F401
from mmdistill.datasets.synthetic.writers import write_png
from mmdistill.registry import TRANSFORMS


def _images(tmp_path, count: int = 3) -> list:
    rng = np.random.default_rng(0)
    paths = []
    for i in range(count):
        path = tmp_path / f'{i}.png'
        write_png(path, rng.integers(0, 256, (6, 5, 3), dtype=np.uint8))
        paths.append(str(path))
    return paths


def test_cached_loader_matches_mmcv_and_decodes_once(tmp_path):
    paths = _images(tmp_path)
    cached = TRANSFORMS.build(dict(type='LoadImageFromFileCached'))
    reference = LoadImageFromFile()
    expected = [reference.transform(dict(img_path=p))['img'] for p in paths]
    first = [cached.transform(dict(img_path=p)) for p in paths]
    for path, out, image in zip(paths, first, expected):
        np.testing.assert_array_equal(out['img'], image)
        assert out['img_shape'] == out['ori_shape'] == (6, 5)
        os.remove(path)  # from now on only the cache can serve it
    first[0]['img'][:] = 0  # a caller writing into its image must not reach the cache
    np.testing.assert_array_equal(cached.transform(dict(img_path=paths[0]))['img'], expected[0])
    assert cached._cached_bytes == 3 * 6 * 5 * 3


def test_cache_stops_growing_at_its_limit(tmp_path):
    paths = _images(tmp_path)
    cached = TRANSFORMS.build(dict(type='LoadImageFromFileCached', max_cache_mb=2 * 90 / 2**20))  # two images
    for path in paths:
        cached.transform(dict(img_path=path))
    assert len(cached._cache) == 2 and cached._cached_bytes == 180
    os.remove(paths[2])
    assert cached.transform(dict(img_path=paths[0]))['img'].shape == (6, 5, 3)  # cached
    assert TRANSFORMS.build(dict(type='LoadImageFromFileCached', ignore_empty=True)).transform(
        dict(img_path=paths[2])) is None  # not cached, gone: mmcv's ignore_empty behaviour
