"""The analysis commands on a small synthetic world: tables, JSON and pictures of the expected size."""
import json
import os.path as osp

import cv2
import pytest
import torch
from train_helpers import load_tool

import mmdistill  # noqa: F401
from mmdistill.analysis.encoders import WORLD_ARCH, load_encoder, quickstart_towers
from mmdistill.analysis.pictures import LABEL_WIDTH
from mmdistill.clip import build_clip_model
from mmdistill.datasets.synthetic import generate_world

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))


def tool(name: str):
    return load_tool(f'analysis/{name}')


@pytest.fixture(scope='module')
def world_and_towers(tmp_path_factory):
    root = tmp_path_factory.mktemp('analysis')
    world = str(root / 'world')
    generate_world(world, seed=2, num_train=1, num_val=8, workers=1, progress=False)
    torch.manual_seed(0)
    checkpoint = str(root / 'tower.pt')
    torch.save(build_clip_model(WORLD_ARCH).state_dict(), checkpoint)
    args = ['--world', world, '--size', '96', '--tower', f'base={checkpoint}', '--tower', 'other=random']
    return root, args


def size_of(path: str) -> tuple[int, int]:
    image = cv2.imread(path)
    assert image is not None and image.std() > 0, f'{path} is empty or blank'
    return image.shape[:2]


def test_coupling_ratio_command(world_and_towers):
    root, args = world_and_towers
    out = str(root / 'cr.json')
    results = tool('coupling_ratio').main(args + ['--num-pairs', '3', '--out', out])
    assert set(results) == {'base', 'other'}
    saved = json.load(open(out))['results']
    assert saved['base']['pairs'] == 3 and all(v == v for v in saved['base'].values())  # no NaN


def test_segmentation_probe_command(world_and_towers):
    root, args = world_and_towers
    out = str(root / 'probe.json')
    results = tool('segmentation_probe').main(args + ['--out', out])
    saved = json.load(open(out))
    assert saved['images'] == 8 and len(saved['classes']) == 32
    assert 0 < results['base']['miou'] <= 1 and 0 < results['base']['accuracy'] <= 1


def test_affinity_maps_picture_size(world_and_towers):
    root, args = world_and_towers
    out = str(root / 'affinity.png')
    tool('affinity_maps').main(args + ['--indices', '0', '3', '--points', '0.5,0.5', '0.2,0.8', '--cell', '64',
                                       '--out', out])
    assert size_of(out) == ((2 + 1) * 64, LABEL_WIDTH + 2 * 2 * 64)  # input + 2 towers; 2 images x 2 queries


def test_feature_pictures_sizes(world_and_towers):
    root, args = world_and_towers
    out = tool('feature_pictures').main(args + ['--indices', '0', '1', '2', '--cell', '48', '--k', '3',
                                                '--tsne-classes', '4', '--per-class', '5', '--perplexity', '5',
                                                '--out-dir', str(root / 'pictures')])
    for what in ('pca', 'kmeans'):
        assert size_of(out[what]) == (3 * 48, LABEL_WIDTH + 3 * 48)
    assert size_of(out['tsne']) == (400, 2 * 400 + 220)


def test_bad_arguments_are_clear(world_and_towers):
    root, args = world_and_towers
    with pytest.raises(IndexError, match=r'--indices \[99\]'):
        tool('feature_pictures').main(args + ['--indices', '99', '--num-images', '4'])
    with pytest.raises(KeyError, match='not classes of the set'):
        tool('feature_pictures').main(args + ['--tsne-names', 'unicorn'])
    with pytest.raises(FileNotFoundError, match='no synthetic world'):
        tool('coupling_ratio').main(['--world', str(root / 'nowhere'), '--tower', 'x=random'])
    with pytest.raises(FileNotFoundError, match='no tiny CLIP'):
        quickstart_towers(str(root / 'nowhere'))


@pytest.mark.slow
def test_quickstart_refiner_reads_out_a_dense_map(quickstart_world):
    from mmdistill.apis.runs import refiner_checkpoint
    refiner_checkpoint(quickstart_world, seed=0, force=False)  # cached by the main job's --all rows
    specs = quickstart_towers(quickstart_world.work_dir)
    encoder = load_encoder(specs['tiny CLIP + Refiner'])
    dense = encoder.dense_features(torch.randn(2, 3, 96, 96))
    assert dense.shape == (2, 128, 8, 8)
    torch.testing.assert_close(dense.norm(dim=1), torch.ones(2, 8, 8))


def test_zero_shot_seg_speed_benchmark(world_and_towers):
    rows = tool('benchmark_zero_shot_seg').main([
        osp.join(REPO, 'configs', 'maskclip', 'maskclip_tinyclip-p12_synthetic-192.py'), '--random-weights',
        '--size', '48', '--batch-size', '2', '--iters', '1', '--warmup', '0', '--crop-size', '24', '--stride', '24'])
    assert [r['mode'] for r in rows] == ['whole', 'slide 24/24']
    assert [r['windows'] for r in rows] == [1, 4]
    assert all(r['images_per_s'] > 0 and r['gflops_per_image'] > 0 for r in rows)
