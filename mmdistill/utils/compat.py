"""Fixes of crashes of the pinned stack (mmengine 0.10.7 on torch 2.14 / current setuptools), nothing else.

Applied once, idempotently, by :func:`apply_compat_patches` when ``mmdistill`` (``mmdistill.utils``) is
imported; each one is documented in docs/compatibility.md (what, why, which versions, which test):

* **Checkpoints and ``torch.load``.** mmengine 0.10.7 calls ``torch.load`` without ``weights_only``; since
  torch 2.6 the default is ``weights_only=True``, and mmengine's own checkpoints (message hub state, numpy
  scalars, config text in ``meta``) fail to unpickle, which breaks ``--resume`` and ``load_from``. We
  re-register mmengine's local-file checkpoint scheme (``CheckpointLoader.register_scheme(prefixes='')``) with
  a loader that passes ``weights_only=False``.
* **``pkg_resources`` missing.** mmengine's ``is_installed`` / ``get_installed_path`` / ``package2module``
  (used by ``Config`` to resolve ``mmdet::`` / ``mmseg::`` bases and by ``mmengine.hub``) import
  ``pkg_resources``, which setuptools 82 removes. Only when it is missing do we replace those helpers with
  :mod:`importlib.metadata` equivalents; with it present (setuptools < 82, the pinned range) mmengine is
  left as it is.
* **Offline mode.** ``MMDISTILL_OFFLINE=1`` (asked for by the environment, nothing by default) turns on
  :func:`mmdistill.utils.offline.forbid_downloads` for the whole process.

What changes behaviour rather than fixing a crash is a component a config names (atomic checkpoint writes:
the ``atomic_local`` file backend of :mod:`mmdistill.utils.atomic`).

Note that ``mmdet::`` bases are resolved while a config file is parsed, before
its ``custom_imports`` run: the fixes are active when ``mmdistill`` was
imported first (``tools/train.py`` and ``tools/test.py`` do so).
"""
import importlib
import importlib.metadata
import importlib.util
import os.path as osp
import sys
from typing import Any, Optional

import torch

from .offline import offline_mode_from_env

_APPLIED: dict = {}


# --------------------------------------------------------------------------
# checkpoints
# --------------------------------------------------------------------------
def load_from_local(filename: str, map_location: Any = None) -> Any:
    """Load a local checkpoint file with ``weights_only=False``.

    Replaces mmengine's local scheme loader (same name, so mmengine's log line
    "Loads checkpoint by local backend" is unchanged). Full unpickling is
    needed for mmengine checkpoints (``meta`` holds the message hub state,
    numpy scalars and the config text). Only load checkpoints you trust:
    files written by your own runs or downloaded from a source you trust,
    as with any pickle.

    Args:
        filename (str): Local path; ``~`` is expanded.
        map_location: Same as :func:`torch.load`.

    Returns:
        The unpickled object (usually a dict with ``state_dict``).
    """
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'{filename} can not be found.')
    return torch.load(filename, map_location=map_location, weights_only=False)


load_from_local._mmdistill_patch = True  # type: ignore[attr-defined]


def patch_checkpoint_loader() -> None:
    """Register :func:`load_from_local` as mmengine's local-file scheme."""
    from mmengine.runner.checkpoint import CheckpointLoader
    if getattr(CheckpointLoader._schemes.get(''), '_mmdistill_patch', False):
        return
    CheckpointLoader.register_scheme(prefixes='', loader=load_from_local, force=True)


# --------------------------------------------------------------------------
# pkg_resources
# --------------------------------------------------------------------------
def pkg_resources_available() -> bool:
    """Whether the ``pkg_resources`` module can be imported (checked without importing it)."""
    if 'pkg_resources' in sys.modules:
        return sys.modules['pkg_resources'] is not None
    try:
        return importlib.util.find_spec('pkg_resources') is not None
    except (ImportError, ValueError):
        return False


def _distribution(package: str) -> Optional[importlib.metadata.Distribution]:
    try:
        return importlib.metadata.distribution(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def _find_spec(name: str):
    try:
        return importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None


def is_installed(package: str) -> bool:
    """``mmengine.utils.is_installed`` without ``pkg_resources``.

    True if a distribution ``package`` is installed, or if a module of that
    name is importable (e.g. through ``PYTHONPATH``).
    """
    if _distribution(package) is not None:
        return True
    spec = _find_spec(package)
    return spec is not None and spec.origin is not None


def package2module(package: str) -> str:
    """``mmengine.utils.package2module`` without ``pkg_resources``.

    The first entry of the distribution's ``top_level.txt``, else the first
    top-level package found in its file list (``RECORD``).
    """
    dist = importlib.metadata.distribution(package)
    top_level = dist.read_text('top_level.txt')
    if top_level:
        names = [ln.strip() for ln in top_level.splitlines() if ln.strip()]
        if names:
            return names[0]
    for file in dist.files or []:
        parts = file.parts
        if len(parts) == 2 and parts[1] == '__init__.py':
            return parts[0]
    raise ValueError(f'can not infer the module name of {package}')


def get_installed_path(package: str) -> str:
    """``mmengine.utils.get_installed_path`` without ``pkg_resources``.

    Returns the directory of the installed package (e.g.
    ``.../site-packages/mmdet``), also for distributions whose module name
    differs from the distribution name and for editable installs.
    """
    dist = _distribution(package)
    if dist is None:
        spec = _find_spec(package)
        if spec is None:
            raise importlib.metadata.PackageNotFoundError(package)
        if spec.origin is None:
            raise RuntimeError(f'{package} is a namespace package, which is invalid '
                               'for `get_install_path`')
        return osp.dirname(spec.origin)
    location = str(dist.locate_file(''))
    possible_path = osp.join(location, package)
    if osp.exists(possible_path):
        return possible_path
    module = package2module(package)
    path = osp.join(location, module)
    if not osp.exists(path):
        # editable installs keep only metadata in site-packages
        spec = _find_spec(module)
        if spec is not None and spec.origin is not None:
            return osp.dirname(spec.origin)
    return path


# module -> names that module binds from mmengine.utils.package_utils
_PACKAGE_UTIL_USERS = {
    'mmengine.utils.package_utils': ('is_installed', 'get_installed_path', 'package2module'),
    'mmengine.utils': ('is_installed', 'get_installed_path'),
    'mmengine.config.config': ('is_installed', 'get_installed_path'),
    'mmengine.hub.hub': ('get_installed_path', ),
}


def patch_package_utils() -> None:
    """Point mmengine's package helpers, in every module that bound them, at the ``importlib.metadata`` ones
    (idempotent)."""
    ours = dict(is_installed=is_installed, get_installed_path=get_installed_path, package2module=package2module)
    for module_name, names in _PACKAGE_UTIL_USERS.items():
        module = importlib.import_module(module_name)
        for name in names:
            setattr(module, name, ours[name])


def fix_pkg_resources() -> str:
    """Patch mmengine's package helpers if ``pkg_resources`` is missing.

    Returns:
        str: ``'present'`` (nothing done) or ``'patched'``.
    """
    if pkg_resources_available():
        return 'present'
    patch_package_utils()
    return 'patched'


# --------------------------------------------------------------------------
def apply_compat_patches() -> dict:
    """Apply all fixes of this module once; later calls are no-ops.

    Returns:
        dict: What was done, e.g. ``{'checkpoint': True, 'pkg_resources':
        'present', 'offline': False}``.
    """
    if not _APPLIED:
        result = dict(pkg_resources=fix_pkg_resources())
        patch_checkpoint_loader()
        result['checkpoint'] = True
        result['offline'] = offline_mode_from_env()
        _APPLIED.update(result)
    return dict(_APPLIED)
