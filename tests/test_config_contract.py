"""Contract: every shipped config builds, trains one step, validates and tests on generated data in its layout.

Each config under ``configs/`` (and ``projects/*/configs/``), except ``_base_`` fragments and the main job's
listing, goes through ``tools/misc/check_config.py``'s check, shrunk (``mmdistill.utils.config_check``):
random weights, 2 generated images per split in the dataset class's own layout, image sizes above 224 px
divided by 4, 64-wide text towers, batches of at most 2. The test fails if the model cannot be built, a
training step, the validation or the test raises, or a logged loss is not finite. All generated data sets
share one folder for the session (a data root is written once).

The configs whose check took more than SLOW_SECONDS on an AVX-512 Xeon with 2 cores are marked slow
(``SLOW``: CI runs them with ``-m slow``); the timings of both sets are in docs/benchmarks.md.
"""
import glob
import os.path as osp

import pytest

from mmdistill.utils.config_check import ConfigCheckError, check_config, prepare_config, shrink_size

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIGS = sorted(p for pattern in ('configs/**/*.py', 'projects/*/configs/**/*.py')
                 for p in glob.glob(osp.join(REPO, pattern), recursive=True)
                 if '_base_' not in p.split(osp.sep) and not p.endswith('main_job.py'))
SLOW_SECONDS = 10
SLOW: set[str] = set()


def rel(path: str) -> str:
    return osp.relpath(path, REPO)


@pytest.fixture(scope='module')
def data_dir(tmp_path_factory) -> str:
    return str(tmp_path_factory.mktemp('check_data'))


@pytest.mark.parametrize('path', [pytest.param(p, id=rel(p), marks=[pytest.mark.slow] if rel(p) in SLOW else [])
                                  for p in CONFIGS])
def test_config_runs(path, data_dir, tmp_path):
    lines = []
    report = check_config(path, work_dir=str(tmp_path), data_dir=data_dir, log=lines.append)
    assert report.ok, '\n'.join(lines) + '\n' + report.traceback
    ran = {s.name for s in report.steps if s.status == 'ok'}
    assert {'config', 'build'} <= ran and ran & {'train', 'val', 'test'}, lines
    if 'train' in ran:
        assert report.losses and 'loss' in ''.join(report.losses), report.losses


def test_every_config_is_collected():
    names = {rel(p) for p in CONFIGS}
    assert len(names) > 100 and 'configs/fvit/fvit_eva02-b16_fpn_8xb8-3e_ov-coco-640.py' in names
    assert not SLOW - names, f'slow configs that do not exist: {sorted(SLOW - names)}'


def test_shrink_size():
    assert shrink_size(1024) == 256 and shrink_size(640) == 224 and shrink_size(96) == 96
    assert shrink_size((2048, 512)) == (512, 224) and shrink_size([0.5, 2.0]) == [0.5, 2.0]


FVIT = osp.join(REPO, 'configs/fvit/fvit_eva02-b16_fpn_8xb8-3e_ov-coco-640.py')


def test_missing_checkpoint_names_key_and_file(tmp_path):
    with pytest.raises(ConfigCheckError) as err:
        prepare_config(FVIT, str(tmp_path), random_weights=False)
    message = str(err.value)
    assert 'model.backbone.tower.checkpoint' in message and 'checkpoints/EVA02_CLIP_B_psz16_s8B.pt' in message


def test_wrong_data_root_names_key_and_folder(tmp_path):
    wrong = tmp_path / 'no_such_data'
    with pytest.raises(ConfigCheckError) as err:
        prepare_config(FVIT, str(tmp_path), data_root=str(wrong))
    message = str(err.value)
    assert 'train_dataloader.dataset.data_root' in message and str(wrong / 'coco') in message


def test_tool_prints_the_failure_last(tmp_path, capsys):
    from importlib.util import module_from_spec, spec_from_file_location
    spec = spec_from_file_location('check_config_tool', osp.join(REPO, 'tools/misc/check_config.py'))
    tool = module_from_spec(spec)
    spec.loader.exec_module(tool)
    status = tool.main([FVIT, '--no-random-weights', '--work-dir', str(tmp_path)])
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert status == 1
    assert last.startswith('failed at config: ConfigCheckError: model.backbone.tower.checkpoint')
    assert 'EVA02_CLIP_B_psz16_s8B.pt' in last
