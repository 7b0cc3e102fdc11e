"""Files that are either the old version or the new one, never half written (a kill mid-write included).

mmengine's ``LocalBackend`` writes checkpoints in place: a process killed mid-save leaves a truncated file that
``--resume`` then fails on. A config opts in to atomic checkpoints with the file backend registered here,
``default_hooks.checkpoint.backend_args = dict(backend='atomic_local')`` (this project's ``_base_`` runtimes do);
mmengine's own backend is left as it is.
"""
from __future__ import annotations

import contextlib
import os
import os.path as osp
import tempfile
from pathlib import Path
from typing import Iterator, Union

from mmengine.fileio import LocalBackend, register_backend
from mmengine.fileio.backends import backends


@contextlib.contextmanager
def atomic_path(path: str) -> Iterator[str]:
    """Yield a temporary path next to ``path``; on success it is renamed over ``path`` (``os.replace``),
    on any error (or a kill) ``path`` keeps its previous content and the temporary file is removed."""
    folder = osp.dirname(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f'.{osp.basename(path)}.', suffix='.tmp')
    os.close(fd)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if osp.exists(tmp):
            os.remove(tmp)


def write_atomic(path: str, data: Union[bytes, str], encoding: str = 'utf-8') -> str:
    """Write ``data`` (bytes, or text in ``encoding``) to ``path`` atomically; return ``path``."""
    with atomic_path(path) as tmp:
        with open(tmp, 'wb') as f:
            f.write(data.encode(encoding) if isinstance(data, str) else data)
            f.flush()
            os.fsync(f.fileno())
    return path


class AtomicLocalBackend(LocalBackend):
    """mmengine's ``LocalBackend`` whose ``put`` / ``put_text`` write a temporary file and rename it."""

    def put(self, obj: bytes, filepath: Union[str, Path]) -> None:
        write_atomic(str(filepath), obj)

    def put_text(self, obj: str, filepath: Union[str, Path], encoding: str = 'utf-8') -> None:
        write_atomic(str(filepath), obj, encoding=encoding)


if backends.get('atomic_local') is not AtomicLocalBackend:  # a new name only: 'local' stays mmengine's
    register_backend('atomic_local', AtomicLocalBackend, force=True)
