"""Compatibility fixes for mmengine 0.10.x on current torch / setuptools.

Applied once, idempotently, by :func:`apply_compat_patches` when
``mmdistill`` (``mmdistill.utils``) is imported:

* **Checkpoints and ``torch.load``.** mmengine 0.10.7 calls ``torch.load``
  without ``weights_only``; since torch 2.6 the default is
  ``weights_only=True``, and mmengine's own checkpoints (message hub state,
  numpy scalars, config text in ``meta``) fail to unpickle, which breaks
  ``--resume`` and ``load_from``. We re-register mmengine's local-file
  checkpoint scheme (``CheckpointLoader.register_scheme(prefixes='')``) with a
  loader that passes ``weights_only=False``.
* **``pkg_resources``.** mmengine's ``is_installed`` / ``get_installed_path`` /
  ``package2module`` (used by ``Config`` to resolve ``mmdet::`` / ``mmseg::``
  bases and by ``mmengine.hub``) import ``pkg_resources``, which setuptools
  81 deprecates with a ``UserWarning`` and setuptools 82 removes. When it is
  importable we silence only that deprecation warning; when it is missing we
  replace those helpers with :mod:`importlib.metadata` equivalents.
* **Atomic file writes.** mmengine's ``LocalBackend.put`` / ``put_text`` (checkpoints, ``last_checkpoint``,
  dumped configs) write in place: a process killed mid-save leaves a truncated checkpoint that ``--resume``
  then fails on. They now write a temporary file and rename it (:mod:`mmdistill.utils.atomic`).
* **Offline mode.** ``MMDISTILL_OFFLINE=1`` turns on
  :func:`mmdistill.utils.offline.forbid_downloads` for the whole process.

Note that ``mmdet::`` bases are resolved while a config file is parsed, before
its ``custom_imports`` run: the fixes are active when ``mmdistill`` was
imported first (``tools/train.py`` and ``tools/test.py`` do so).
"""
import functools
import importlib
import importlib.metadata
import importlib.util
import os.path as osp
import sys
import warnings
from typing import Any, Callable, Optional

import torch

from .offline import offline_mode_from_env

PKG_RESOURCES_WARNING = r'pkg_resources is deprecated as an API'

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


def _replace_package_utils(make: Callable[[str, Callable], Callable]) -> None:
    """Set ``make(name, original)`` for each helper, in every module that bound it."""
    source = importlib.import_module('mmengine.utils.package_utils')
    originals = {name: getattr(source, name) for name in _PACKAGE_UTIL_USERS['mmengine.utils.package_utils']}
    replacements = {name: make(name, fn) for name, fn in originals.items()}
    for module_name, names in _PACKAGE_UTIL_USERS.items():
        module = importlib.import_module(module_name)
        for name in names:
            setattr(module, name, replacements[name])


def patch_package_utils() -> None:
    """Point mmengine's package helpers at the ``importlib.metadata`` ones."""
    ours = dict(is_installed=is_installed, get_installed_path=get_installed_path, package2module=package2module)
    _replace_package_utils(lambda name, original: ours[name])


def _quiet(original: Callable) -> Callable:
    """``original`` with the pkg_resources deprecation warning ignored while it runs."""
    if getattr(original, '_mmdistill_quiet', False):
        return original

    @functools.wraps(original)
    def wrapper(*args, **kwargs):
        with warnings.catch_warnings():
            warnings.filterwarnings('ignore', message=PKG_RESOURCES_WARNING, category=UserWarning)
            return original(*args, **kwargs)

    wrapper._mmdistill_quiet = True  # type: ignore[attr-defined]
    return wrapper


def silence_pkg_resources_warning() -> None:
    """Ignore only setuptools' "pkg_resources is deprecated" UserWarning.

    A process-wide filter, plus mmengine's helpers wrapped so that the warning
    stays silent when something resets the filters (e.g. pytest, per test).
    """
    warnings.filterwarnings('ignore', message=PKG_RESOURCES_WARNING, category=UserWarning)
    _replace_package_utils(lambda name, original: _quiet(original))


def fix_pkg_resources() -> str:
    """Silence the warning, or patch mmengine if ``pkg_resources`` is missing.

    Returns:
        str: ``'silenced'`` or ``'patched'``.
    """
    if pkg_resources_available():
        silence_pkg_resources_warning()
        return 'silenced'
    patch_package_utils()
    return 'patched'


# --------------------------------------------------------------------------
# atomic writes
# --------------------------------------------------------------------------
def patch_atomic_local_writes() -> None:
    """Make mmengine's local-file writes (checkpoints included) atomic."""
    from mmengine.fileio.backends.local_backend import LocalBackend

    from .atomic import write_atomic

    def put(self, obj: bytes, filepath) -> None:
        write_atomic(str(filepath), obj)

    def put_text(self, obj: str, filepath, encoding: str = 'utf-8') -> None:
        write_atomic(str(filepath), obj, encoding=encoding)

    LocalBackend.put, LocalBackend.put_text = put, put_text


# --------------------------------------------------------------------------
def apply_compat_patches() -> dict:
    """Apply all fixes of this module once; later calls are no-ops.

    Returns:
        dict: What was done, e.g. ``{'checkpoint': True, 'pkg_resources':
        'silenced', 'offline': False}``.
    """
    if not _APPLIED:
        # silence before anything can import pkg_resources
        result = dict(pkg_resources=fix_pkg_resources())
        patch_checkpoint_loader()
        result['checkpoint'] = True
        patch_atomic_local_writes()
        result['atomic_writes'] = True
        result['offline'] = offline_mode_from_env()
        _APPLIED.update(result)
    return dict(_APPLIED)
