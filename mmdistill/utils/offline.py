"""A guard that makes any attempted download fail loudly.

Weights and data are never downloaded at run time in mmdistill: a config
names local files. :func:`forbid_downloads` enforces it (tests, tools):

* sets ``HF_HUB_OFFLINE=1``, ``TRANSFORMERS_OFFLINE=1`` and
  ``HF_DATASETS_OFFLINE=1`` (and ``huggingface_hub.constants.HF_HUB_OFFLINE``
  when huggingface_hub is already imported);
* makes ``torch.hub.load_state_dict_from_url``, ``torch.hub.download_url_to_file``,
  ``urllib.request.urlopen``, ``socket.create_connection`` and
  ``socket.socket.connect`` raise :class:`DownloadForbiddenError` naming the
  URL / address. Loopback and Unix-socket connections stay allowed
  (distributed rendezvous, local services).

Everything is restored on exit. ``MMDISTILL_OFFLINE=1`` in the environment
turns the guard on for the whole process when ``mmdistill`` is imported.
"""
import contextlib
import ipaddress
import os
import socket
import sys
import urllib.request
from typing import Any, Callable, Iterator, List, Tuple

OFFLINE_ENV_VARS = ('HF_HUB_OFFLINE', 'TRANSFORMERS_OFFLINE', 'HF_DATASETS_OFFLINE')
_LOOPBACK_NAMES = ('localhost', 'localhost.localdomain', '')

_process_guard: List[contextlib.ExitStack] = []


class DownloadForbiddenError(RuntimeError):
    """Raised when code tries to download something while downloads are off."""

    def __init__(self, what: str):
        super().__init__(
            f'mmdistill: download attempted while downloads are forbidden: {what}. '
            'mmdistill never downloads at run time: put the file on disk and point the '
            'config at it (unset MMDISTILL_OFFLINE to allow network access).')
        self.what = what


def _url_of(obj: Any) -> str:
    """The URL of a str / ``urllib.request.Request``."""
    return getattr(obj, 'full_url', None) or str(obj)


def _is_local_address(address: Any) -> bool:
    """Whether a socket address is a Unix socket or a loopback host."""
    if not isinstance(address, tuple) or not address:
        return True  # AF_UNIX paths, abstract sockets
    host = address[0]
    if isinstance(host, bytes):
        host = host.decode(errors='replace')
    host = str(host).strip('[]').lower()
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.split('%')[0]).is_loopback
    except ValueError:
        return False


def _address_str(address: Any) -> str:
    if isinstance(address, tuple) and len(address) >= 2:
        return f'{address[0]}:{address[1]}'
    return str(address)


def _blocked_urlopen(url, *args, **kwargs):
    raise DownloadForbiddenError(f'urllib.request.urlopen({_url_of(url)!r})')


def _blocked_load_state_dict_from_url(url, *args, **kwargs):
    raise DownloadForbiddenError(f'torch.hub.load_state_dict_from_url({url!r})')


def _blocked_download_url_to_file(url, *args, **kwargs):
    raise DownloadForbiddenError(f'torch.hub.download_url_to_file({url!r})')


def _guard_create_connection(original: Callable) -> Callable:

    def create_connection(address, *args, **kwargs):
        if not _is_local_address(address):
            raise DownloadForbiddenError(f'socket.create_connection({_address_str(address)})')
        return original(address, *args, **kwargs)

    return create_connection


def _guard_connect(original: Callable, name: str) -> Callable:

    def connect(self, address, *args, **kwargs):
        if not _is_local_address(address):
            raise DownloadForbiddenError(f'socket.{name}({_address_str(address)})')
        return original(self, address, *args, **kwargs)

    return connect


def _patches() -> List[Tuple[Any, str, Any]]:
    """(owner, attribute, replacement) for every function the guard blocks."""
    patches: List[Tuple[Any, str, Any]] = [
        (urllib.request, 'urlopen', _blocked_urlopen),
        (socket, 'create_connection', _guard_create_connection(socket.create_connection)),
        (socket.socket, 'connect', _guard_connect(socket.socket.connect, 'connect')),
        (socket.socket, 'connect_ex', _guard_connect(socket.socket.connect_ex, 'connect_ex')),
    ]
    try:
        import torch.hub as torch_hub
        import torch.utils.model_zoo as model_zoo
    except ImportError:  # torch-free use of the guard
        pass
    else:
        patches += [(torch_hub, 'load_state_dict_from_url', _blocked_load_state_dict_from_url),
                    (torch_hub, 'download_url_to_file', _blocked_download_url_to_file),
                    (model_zoo, 'load_url', _blocked_load_state_dict_from_url)]
    hf_constants = sys.modules.get('huggingface_hub.constants')
    if hf_constants is not None and hasattr(hf_constants, 'HF_HUB_OFFLINE'):
        patches.append((hf_constants, 'HF_HUB_OFFLINE', True))
    return patches


def _set_attr(stack: contextlib.ExitStack, owner: Any, name: str, value: Any) -> None:
    sentinel = object()
    old = owner.__dict__.get(name, sentinel) if isinstance(owner, type) else getattr(owner, name, sentinel)
    setattr(owner, name, value)

    def restore() -> None:
        if old is sentinel:
            delattr(owner, name)
        else:
            setattr(owner, name, old)

    stack.callback(restore)


def _set_env(stack: contextlib.ExitStack, name: str, value: str) -> None:
    old = os.environ.get(name)
    os.environ[name] = value

    def restore() -> None:
        if old is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = old

    stack.callback(restore)


@contextlib.contextmanager
def forbid_downloads() -> Iterator[None]:
    """Context manager: any download attempt raises :class:`DownloadForbiddenError`.

    Nested use is fine; everything (functions, environment variables) is
    restored on exit, also when the body raises.

    Example:
        >>> with forbid_downloads():
        ...     urllib.request.urlopen('https://example.com/w.pt')
        Traceback (most recent call last):
        DownloadForbiddenError: ... urllib.request.urlopen('https://example.com/w.pt') ...
    """
    with contextlib.ExitStack() as stack:
        for name in OFFLINE_ENV_VARS:
            _set_env(stack, name, '1')
        for owner, name, value in _patches():
            _set_attr(stack, owner, name, value)
        yield


def enable_offline_mode() -> None:
    """Turn :func:`forbid_downloads` on for the rest of the process (idempotent)."""
    if _process_guard:
        return
    stack = contextlib.ExitStack()
    stack.enter_context(forbid_downloads())
    _process_guard.append(stack)


def disable_offline_mode() -> None:
    """Undo :func:`enable_offline_mode`."""
    while _process_guard:
        _process_guard.pop().close()


def offline_mode_from_env() -> bool:
    """Enable offline mode if ``MMDISTILL_OFFLINE`` is set to a true value.

    Returns:
        bool: Whether offline mode is on.
    """
    if os.environ.get('MMDISTILL_OFFLINE', '').strip().lower() in ('1', 'true', 'yes', 'on'):
        enable_offline_mode()
    return bool(_process_guard)
