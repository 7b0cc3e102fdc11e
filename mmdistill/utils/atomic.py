"""Files that are either the old version or the new one, never half written (a kill mid-write included)."""
from __future__ import annotations

import contextlib
import os
import os.path as osp
import tempfile
from typing import Iterator, Union


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
