"""tools/train.py (train, auto-resume) and tools/test.py end to end on a toy CPU config."""
import importlib.util
import os
import os.path as osp
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / 'tests' / 'data'
CONFIG = DATA / 'toy_train_cfg.py'


def _env() -> dict:
    env = dict(os.environ)
    env['PYTHONPATH'] = os.pathsep.join([str(REPO), str(DATA)] + [p for p in [env.get('PYTHONPATH')] if p])
    env['MMDISTILL_OFFLINE'] = '1'
    env['CUDA_VISIBLE_DEVICES'] = ''
    return env


def _run(tool: str, *args: str, cwd: Path) -> str:
    cmd = [sys.executable, str(REPO / 'tools' / tool), *args]
    proc = subprocess.run(cmd, cwd=cwd, env=_env(), capture_output=True, text=True, timeout=300)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, f'{" ".join(cmd)} failed:\n{out[-5000:]}'
    return out


def _load(path: Path) -> dict:
    return torch.load(path, map_location='cpu', weights_only=False)


@pytest.fixture(autouse=True)
def _toy_modules_importable(monkeypatch):
    monkeypatch.syspath_prepend(str(DATA))


def _import_tool(name: str):
    spec = importlib.util.spec_from_file_location(f'mmdistill_tools_{name}', REPO / 'tools' / f'{name}.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    """Train 4 iters, then ``--resume`` (auto) up to 6 iters in the same work dir."""
    root = tmp_path_factory.mktemp('toy_train')
    work_dir = root / 'work'
    first = _run('train.py', str(CONFIG), '--work-dir', str(work_dir), cwd=root)
    resumed = _run('train.py', str(CONFIG), '--work-dir', str(work_dir), '--resume', '--cfg-options',
                   'train_cfg.max_iters=6', cwd=root)
    return dict(work_dir=work_dir, first=first, resumed=resumed, root=root)


def test_first_run_saves_every_two_iters(trained):
    work_dir = trained['work_dir']
    for it in (2, 4):
        assert _load(work_dir / f'iter_{it}.pth')['meta']['iter'] == it
    assert 'Iter(train) [1/4]' in trained['first']


def test_resume_continues_from_saved_iter(trained):
    work_dir, log = trained['work_dir'], trained['resumed']
    assert 'resumed epoch: 0, iter: 4' in log
    logged_iters = [int(m) for m in re.findall(r'Iter\(train\) \[(\d+)/6\]', log)]
    assert logged_iters == [5, 6]
    final = _load(work_dir / 'iter_6.pth')
    assert final['meta']['iter'] == 6
    assert 'message_hub' in final and 'optimizer' in final
    # weights at the start of the resumed loop == the saved iter-4 weights
    saved = _load(work_dir / 'iter_4.pth')['state_dict']
    at_resume = _load(work_dir / 'before_train_iter4.pth')
    assert at_resume['iter'] == 4
    assert saved.keys() == at_resume['state_dict'].keys()
    for key, value in saved.items():
        torch.testing.assert_close(at_resume['state_dict'][key], value, rtol=0, atol=0)
    assert not torch.equal(final['state_dict']['linear.weight'], saved['linear.weight'])


def test_test_tool_reports_metric(trained):
    out_file = trained['root'] / 'preds.pkl'
    log = _run('test.py', str(CONFIG), str(trained['work_dir'] / 'iter_6.pth'), '--work-dir',
               str(trained['root'] / 'test'), '--out', str(out_file), cwd=trained['root'])
    match = re.search(r'metrics: .*"toy/mse": ([0-9.eE+-]+)', log)
    assert match is not None, log[-3000:]
    assert float(match.group(1)) >= 0
    assert out_file.is_file()


# --------------------------------------------------------------- options (in process)
def test_resume_and_workdir_options():
    train = _import_tool('train')
    cfg = train.setup_cfg(train.parse_args([str(CONFIG), '--resume']))  # no checkpoint yet: from the beginning
    assert cfg.resume is False and cfg.load_from is None
    assert cfg.work_dir == osp.join('./work_dirs', 'toy_train_cfg')
    ckpt = str(CONFIG)  # any existing file
    cfg = train.setup_cfg(train.parse_args([str(CONFIG), '--resume', ckpt, '--work-dir', 'somewhere']))
    assert cfg.resume is True and cfg.load_from == ckpt and cfg.work_dir == 'somewhere'
    with pytest.raises(FileNotFoundError, match='does not exist'):
        train.setup_cfg(train.parse_args([str(CONFIG), '--resume', 'no/such/ckpt.pth']))


def test_amp_flag_without_cuda_falls_back_to_fp32(monkeypatch):
    train = _import_tool('train')
    from mmdistill.utils import runtime
    monkeypatch.setattr(runtime, 'amp_supported', lambda: False)
    cfg = train.setup_cfg(train.parse_args([str(CONFIG), '--amp']))
    assert cfg.optim_wrapper.type == 'OptimWrapper' and 'loss_scale' not in cfg.optim_wrapper
    monkeypatch.setattr(runtime, 'amp_supported', lambda: True)
    cfg = train.setup_cfg(train.parse_args([str(CONFIG), '--amp']))
    assert cfg.optim_wrapper.type == 'AmpOptimWrapper' and cfg.optim_wrapper.loss_scale == 'dynamic'


def test_auto_scale_lr_needs_config_entry():
    train = _import_tool('train')
    with pytest.raises(RuntimeError, match='auto_scale_lr'):
        train.setup_cfg(train.parse_args([str(CONFIG), '--auto-scale-lr']))
    cfg = train.setup_cfg(
        train.parse_args([str(CONFIG), '--auto-scale-lr', '--cfg-options', 'auto_scale_lr.base_batch_size=16']))
    assert cfg.auto_scale_lr.enable is True


def test_show_dir_options():
    test = _import_tool('test')
    with pytest.raises(RuntimeError, match='visualization hook'):
        test.setup_cfg(test.parse_args([str(CONFIG), str(CONFIG), '--show-dir', 'vis']))
    cfg = test.setup_cfg(
        test.parse_args([
            str(CONFIG),
            str(CONFIG), '--show-dir', 'vis', '--cfg-options', 'default_hooks.visualization.type=VisualizationHook',
            'visualizer.type=Visualizer'
        ]))
    assert cfg.default_hooks.visualization.draw is True
    assert cfg.visualizer.save_dir == 'vis'
    assert cfg.load_from == str(CONFIG) and cfg.resume is False
    # a hook with `test_out_dir` (like mmdet's DetVisualizationHook) gets the folder itself
    cfg = test.setup_cfg(
        test.parse_args([
            str(CONFIG),
            str(CONFIG), '--show', '--wait-time', '0.5', '--show-dir', 'vis', '--cfg-options',
            'default_hooks.visualization.type=ToyVisualizationHook'
        ]))
    hook = cfg.default_hooks.visualization
    assert hook.test_out_dir == 'vis' and hook.show is True and hook.wait_time == 0.5


def test_a_config_without_a_seed_resumes_with_the_checkpoint_seed(tmp_path):
    """The data order after a resume follows the checkpoint's seed (mmengine sets it too late for the sampler)."""
    train = _import_tool('train')
    ckpt = tmp_path / 'iter_2.pth'
    torch.save(dict(meta=dict(seed=1234, iter=2), state_dict={}), ckpt)
    unseeded = ['--cfg-options', 'randomness.seed=None']
    cfg = train.setup_cfg(train.parse_args([str(CONFIG), '--resume', str(ckpt), *unseeded]))
    assert cfg.randomness.seed == 1234
    (tmp_path / 'last_checkpoint').write_text(str(ckpt))  # auto resume finds it in the work dir
    cfg = train.setup_cfg(train.parse_args([str(CONFIG), '--resume', '--work-dir', str(tmp_path), *unseeded]))
    assert cfg.randomness.seed == 1234
    cfg = train.setup_cfg(train.parse_args([str(CONFIG), '--resume', str(ckpt)]))  # a config's own seed wins
    assert cfg.randomness.seed == 0


def test_auto_resume_takes_the_newest_checkpoint_when_last_checkpoint_is_empty_or_stale(tmp_path):
    """mmengine rewrites ``last_checkpoint`` in place: a run killed then leaves it empty, and a checkpoint folder
    that was moved leaves it naming a missing file; ``--resume`` then takes the newest checkpoint by number."""
    train = _import_tool('train')
    from mmdistill.utils.runtime import latest_checkpoint

    def resumed(*options: str):
        cfg = train.setup_cfg(train.parse_args([str(CONFIG), '--resume', '--work-dir', str(tmp_path), *options]))
        return cfg.resume, cfg.load_from

    assert latest_checkpoint(str(tmp_path)) is None
    assert resumed('--cfg-options', 'load_from=init.pth') == (False, 'init.pth')  # a fresh run keeps its weights
    for step in (4, 12, 8):
        torch.save(dict(meta=dict(seed=0, iter=step), state_dict={}), tmp_path / f'iter_{step}.pth')
    newest = str(tmp_path / 'iter_12.pth')  # by number: 'iter_4.pth' sorts last as a string
    assert latest_checkpoint(str(tmp_path)) == newest  # no last_checkpoint at all
    pointer = tmp_path / 'last_checkpoint'
    pointer.write_text(str(tmp_path / 'iter_8.pth'))
    assert resumed() == (True, str(tmp_path / 'iter_8.pth'))  # mmengine's rule when its file exists
    pointer.write_text('')
    assert resumed() == (True, newest)
    pointer.write_text('/moved/away/iter_12.pth')
    assert resumed('--cfg-options', 'load_from=init.pth') == (True, newest)
    (tmp_path / 'iter_12.pth').unlink()
    (tmp_path / 'iter_4.pth').unlink()
    (tmp_path / 'iter_8.pth').rename(tmp_path / 'epoch_3.pth')
    assert latest_checkpoint(str(tmp_path)) == str(tmp_path / 'epoch_3.pth')
