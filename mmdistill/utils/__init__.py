"""Utilities; importing this package applies :func:`apply_compat_patches` (crash fixes of the pinned stack,
docs/compatibility.md) and registers the ``atomic_local`` file backend."""
from .atomic import AtomicLocalBackend
from .compat import (
    apply_compat_patches,
    get_installed_path,
    is_installed,
    load_from_local,
    package2module,
    patch_checkpoint_loader,
)
from .modules import module_device
from .offline import (
    DownloadForbiddenError,
    disable_offline_mode,
    enable_offline_mode,
    forbid_downloads,
    offline_mode_from_env,
)
from .precision import at_least_float32

apply_compat_patches()

__all__ = [
    'AtomicLocalBackend', 'apply_compat_patches', 'patch_checkpoint_loader', 'load_from_local', 'is_installed',
    'get_installed_path', 'package2module', 'DownloadForbiddenError', 'forbid_downloads', 'enable_offline_mode',
    'disable_offline_mode', 'offline_mode_from_env', 'module_device', 'at_least_float32'
]
