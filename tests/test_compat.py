"""mmdistill.utils.compat / offline: checkpoints on torch >= 2.6, pkg_resources, no downloads."""
import importlib.metadata
import os
import os.path as osp
import pickle
import re
import socket
import subprocess
import sys
import textwrap
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.logging import MessageHub
from mmengine.runner import Runner
from mmengine.runner.checkpoint import CheckpointLoader, _load_checkpoint, load_checkpoint, save_checkpoint
from mmengine.utils import digit_version

import mmdistill.utils as mu
from mmdistill.utils import compat

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / 'tests' / 'data'


def _installed(dist: str) -> bool:
    try:
        importlib.metadata.distribution(dist)
        return True
    except importlib.metadata.PackageNotFoundError:
        return False


def _run_python(code: str, **env) -> subprocess.CompletedProcess:
    full_env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get('PYTHONPATH', '')]), **env)
    return subprocess.run([sys.executable, '-c', textwrap.dedent(code)],
                          cwd=REPO, env=full_env, capture_output=True, text=True, timeout=300)


# ----------------------------------------------------------------------------- checkpoints
def _mmengine_checkpoint(path: str, model: torch.nn.Module) -> None:
    hub = MessageHub.get_instance('mmdistill_test_compat')
    hub.update_scalar('train/loss', 0.5)
    hub.update_info('iter', 3)
    meta = dict(iter=3, epoch=0, np_scalar=np.float64(1.25), np_int=np.int64(7), cfg='a = 1\n', seed=0)
    checkpoint = dict(meta=meta, state_dict=model.state_dict(), message_hub=hub.state_dict())
    save_checkpoint(checkpoint, path)


def test_patches_are_applied_and_idempotent():
    before = dict(CheckpointLoader._schemes)
    assert CheckpointLoader._schemes[''] is compat.load_from_local
    assert mu.apply_compat_patches() == mu.apply_compat_patches()
    compat.patch_checkpoint_loader()
    assert dict(CheckpointLoader._schemes) == before


def test_load_mmengine_checkpoint(tmp_path):
    path = str(tmp_path / 'ckpt.pth')
    model = torch.nn.Linear(3, 2)
    _mmengine_checkpoint(path, model)
    if digit_version(torch.__version__) >= digit_version('2.6.0'):  # what the fix is for
        with pytest.raises(pickle.UnpicklingError):
            torch.load(path)
    ckpt = _load_checkpoint(path, map_location='cpu')
    assert ckpt['meta']['np_scalar'] == 1.25 and ckpt['meta']['iter'] == 3
    assert 'log_scalars' in ckpt['message_hub']
    other = torch.nn.Linear(3, 2)
    load_checkpoint(other, path, map_location='cpu')
    torch.testing.assert_close(other.weight, model.weight)
    with pytest.raises(FileNotFoundError):
        _load_checkpoint(str(tmp_path / 'missing.pth'))


def _toy_runner(work_dir: str, max_iters: int, name: str, **kwargs) -> Runner:
    from toy_train_modules import ToyRegressionDataset, ToyRegressor
    return Runner(
        model=ToyRegressor(),
        work_dir=work_dir,
        experiment_name=name,
        train_dataloader=dict(
            dataset=ToyRegressionDataset(num=16),
            sampler=dict(type='DefaultSampler', shuffle=False),
            collate_fn=dict(type='default_collate'),
            batch_size=4,
            num_workers=0),
        train_cfg=dict(by_epoch=False, max_iters=max_iters),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01)),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=2, by_epoch=False)),
        default_scope='mmdistill',
        **kwargs)


def test_runner_resume(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(DATA))
    work_dir = str(tmp_path)
    _toy_runner(work_dir, 2, 'compat_first').train()
    ckpt = osp.join(work_dir, 'iter_2.pth')
    saved = torch.load(ckpt, map_location='cpu', weights_only=False)
    runner = _toy_runner(work_dir, 3, 'compat_resume', resume=True, load_from=ckpt)
    runner.load_or_resume()
    assert runner.iter == 2
    torch.testing.assert_close(runner.model.linear.weight, saved['state_dict']['linear.weight'])


# ----------------------------------------------------------------------------- pkg_resources
def test_importlib_metadata_helpers_match_mmengine():
    assert compat.is_installed('mmengine')
    assert not compat.is_installed('surely-not-installed-mmdistill-pkg')
    import mmengine
    assert compat.get_installed_path('mmengine') == osp.dirname(mmengine.__file__)
    assert compat.package2module('mmengine') == 'mmengine'
    if _installed('mmsegmentation'):  # distribution and module names differ
        assert compat.package2module('mmsegmentation') == 'mmseg'
        path = compat.get_installed_path('mmsegmentation')
        assert osp.basename(path) == 'mmseg' and osp.isdir(path)
    if compat.pkg_resources_available():  # same answers as mmengine's pkg_resources versions
        from mmengine.utils import package_utils
        for dist in ('mmengine', 'mmsegmentation', 'mmdet', 'torch'):
            if _installed(dist):
                assert compat.get_installed_path(dist) == package_utils.get_installed_path(dist)
                assert compat.is_installed(dist) == package_utils.is_installed(dist)


def _write_mmdet_base_cfg(folder: Path) -> Path:
    cfg = folder / 'uses_mmdet_base.py'
    cfg.write_text("_base_ = 'mmdet::_base_/default_runtime.py'\n"
                   "custom_imports = dict(imports=['mmdistill'], allow_failed_imports=False)\n"
                   "work_dir = 'x'\n")
    return cfg


def test_mmdet_base_config_resolves(tmp_path):
    cfg = Config.fromfile(str(_write_mmdet_base_cfg(tmp_path)))
    assert cfg.default_scope == 'mmdet'
    assert cfg.default_hooks.checkpoint.type == 'CheckpointHook'
    assert cfg.work_dir == 'x'


_MISSING_PKG_RESOURCES = '''
import sys
sys.modules['pkg_resources'] = None  # as with setuptools >= 82
{imports}
from mmengine.config import Config
cfg = Config.fromfile({cfg!r})
assert cfg.default_scope == 'mmdet', cfg.default_scope
from mmengine.utils import is_installed, get_installed_path
assert is_installed('mmdet') and get_installed_path('mmdet').endswith('mmdet')
print('RESOLVED')
'''


def test_mmdet_base_without_pkg_resources(tmp_path):
    cfg = str(_write_mmdet_base_cfg(tmp_path))
    proc = _run_python(_MISSING_PKG_RESOURCES.format(imports='import mmdistill.utils', cfg=cfg))
    assert proc.returncode == 0 and 'RESOLVED' in proc.stdout, proc.stderr[-3000:]
    # without mmdistill, mmengine 0.10.7 cannot resolve the base: the test is meaningful
    proc = _run_python(_MISSING_PKG_RESOURCES.format(imports='', cfg=cfg))
    assert proc.returncode != 0 and 'pkg_resources' in proc.stderr


def test_pkg_resources_present_leaves_mmengine_alone():
    assert compat.pkg_resources_available(), 'setuptools < 82 (with pkg_resources) is a pinned dependency'
    assert mu.apply_compat_patches()['pkg_resources'] == 'present'
    code = '''
    import mmengine.config.config as config_module
    import mmengine.hub.hub as hub_module
    import mmengine.utils as utils_module
    import mmengine.utils.package_utils as package_utils
    before = [package_utils.is_installed, package_utils.get_installed_path, package_utils.package2module,
              utils_module.is_installed, config_module.get_installed_path, hub_module.get_installed_path]
    import mmdistill
    after = [package_utils.is_installed, package_utils.get_installed_path, package_utils.package2module,
             utils_module.is_installed, config_module.get_installed_path, hub_module.get_installed_path]
    print('UNCHANGED', all(a is b for a, b in zip(before, after)))
    '''
    proc = _run_python(code)
    assert 'UNCHANGED True' in proc.stdout, proc.stdout + proc.stderr[-3000:]


def test_our_code_never_imports_pkg_resources():
    statement = re.compile(r'^\s*(import|from)\s+pkg_resources\b', re.MULTILINE)
    for path in (REPO / 'mmdistill').rglob('*.py'):
        assert not statement.search(path.read_text(encoding='utf-8')), f'{path} imports pkg_resources'


# ----------------------------------------------------------------------------- no downloads
def test_forbid_downloads_blocks_and_restores(monkeypatch, tmp_path):
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch_home'))
    monkeypatch.setenv('HF_HUB_OFFLINE', '0')
    monkeypatch.delenv('TRANSFORMERS_OFFLINE', raising=False)
    originals = (urllib.request.urlopen, socket.create_connection, torch.hub.load_state_dict_from_url,
                 torch.hub.download_url_to_file, 'connect' in vars(socket.socket))
    url = 'https://download.example.com/weights/ViT-B-16.pt'
    with mu.forbid_downloads():
        assert os.environ['HF_HUB_OFFLINE'] == '1' and os.environ['TRANSFORMERS_OFFLINE'] == '1'
        with pytest.raises(mu.DownloadForbiddenError, match='download.example.com/weights/ViT-B-16.pt'):
            urllib.request.urlopen(url)
        with pytest.raises(mu.DownloadForbiddenError, match='ViT-B-16.pt'):
            torch.hub.load_state_dict_from_url(url)
        with pytest.raises(mu.DownloadForbiddenError, match='download.example.com:443'):
            socket.create_connection(('download.example.com', 443))
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            with pytest.raises(mu.DownloadForbiddenError, match='203.0.113.5:80'):
                sock.connect(('203.0.113.5', 80))
        finally:
            sock.close()
        # mmengine's http checkpoint scheme goes through torch.hub's downloader
        with pytest.raises(mu.DownloadForbiddenError, match='ViT-B-16.pt'):
            _load_checkpoint(url)
    assert (urllib.request.urlopen, socket.create_connection, torch.hub.load_state_dict_from_url,
            torch.hub.download_url_to_file, 'connect' in vars(socket.socket)) == originals
    assert os.environ['HF_HUB_OFFLINE'] == '0' and 'TRANSFORMERS_OFFLINE' not in os.environ


def test_forbid_downloads_restores_after_error():
    original = urllib.request.urlopen
    with pytest.raises(KeyError), mu.forbid_downloads():
        raise KeyError('boom')
    assert urllib.request.urlopen is original


def test_forbid_downloads_allows_loopback():
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(('127.0.0.1', 0))
    server.listen(1)
    try:
        with mu.forbid_downloads():
            conn = socket.create_connection(server.getsockname(), timeout=5)
            conn.close()
    finally:
        server.close()


def test_offline_env_var_guards_whole_process():
    code = '''
    import urllib.request
    import mmdistill.utils
    try:
        urllib.request.urlopen('https://example.com/model.bin')
    except mmdistill.utils.DownloadForbiddenError as e:
        print('BLOCKED', e)
    '''
    proc = _run_python(code, MMDISTILL_OFFLINE='1')
    assert 'BLOCKED' in proc.stdout and 'https://example.com/model.bin' in proc.stdout, proc.stderr[-3000:]


def test_enable_disable_offline_mode():
    # In a fresh interpreter without MMDISTILL_OFFLINE, so the check runs whatever this process's mode is.
    code = '''
    import os, urllib.request
    import mmdistill.utils as mu
    original = urllib.request.urlopen
    mu.enable_offline_mode()
    mu.enable_offline_mode()  # idempotent
    assert urllib.request.urlopen is not original and os.environ['HF_HUB_OFFLINE'] == '1'
    mu.disable_offline_mode()
    assert urllib.request.urlopen is original
    print('RESTORED')
    '''
    env = {k: v for k, v in os.environ.items() if k not in ('MMDISTILL_OFFLINE', 'HF_HUB_OFFLINE')}
    proc = subprocess.run([sys.executable, '-c', textwrap.dedent(code)], cwd=REPO, capture_output=True, text=True,
                          timeout=300, env=dict(env, PYTHONPATH=str(REPO)))
    assert proc.returncode == 0 and 'RESTORED' in proc.stdout, proc.stderr[-3000:]

