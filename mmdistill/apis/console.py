"""What the main job shows on the terminal: stage headers, one progress bar per training or test, the
tables and the pictures. Everything else a stage prints (mmengine's config dumps, hook tables, iteration
logs, warnings, output of C code) goes to that stage's log file; a failing stage prints its log's path
and last lines.

    with MainJobConsole('work_dirs/quickstart/logs'):   # installed: step() and attach_progress() use it
        with step('distil_clipself_seed0', 'distil CLIPSelf (seed 0)'):
            runner = Runner.from_cfg(cfg)
            attach_progress(runner)    # a bar on the terminal while the runner trains or tests
            runner.train()
"""
from __future__ import annotations

import contextlib
import os
import os.path as osp
import sys
import time
import traceback
from collections import deque
from typing import Iterator, Optional, TextIO

from mmengine.hooks import Hook
from mmengine.runner import Runner
from tqdm import tqdm

TAIL_LINES = 20


class StageFailed(RuntimeError):
    """A main-job step raised; its traceback is at the end of ``log``."""

    def __init__(self, desc: str, log: str):
        super().__init__(f'{desc} failed; full log: {log}')
        self.log = log


class ConsoleProgressHook(Hook):
    """A tqdm bar on ``stream`` for a runner's training iterations or test batches (resumed runs start at
    their iteration); the last training loss is shown beside it."""

    priority = 'VERY_LOW'

    def __init__(self, stream: TextIO, desc: str):
        self.stream, self.desc = stream, desc
        self.bar: Optional[tqdm] = None

    def _open(self, total: int, initial: int, unit: str) -> None:
        interactive = self.stream.isatty()
        self.bar = tqdm(total=total, initial=initial, desc=self.desc, unit=unit, file=self.stream, leave=True,
                        ascii=not interactive, dynamic_ncols=interactive, ncols=None if interactive else 100,
                        mininterval=0.5 if interactive else 30.0)

    def _close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def before_train(self, runner: Runner) -> None:
        self._open(runner.max_iters, runner.iter, 'it')

    def after_train_iter(self, runner: Runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        loss = (outputs or {}).get('loss')
        if loss is not None:
            self.bar.set_postfix_str(f'loss {float(loss):.3f}', refresh=False)
        self.bar.update(1)

    def after_train(self, runner: Runner) -> None:
        self._close()

    def before_test(self, runner: Runner) -> None:
        self._open(len(runner.test_dataloader), 0, 'batch')

    def after_test_iter(self, runner: Runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        self.bar.update(1)

    def after_test(self, runner: Runner) -> None:
        self._close()


class MainJobConsole:
    """The terminal of the main job and the log files of its steps (``log_dir/<name>.log``, appended)."""

    def __init__(self, log_dir: str, stream: TextIO = sys.stdout):
        self.log_dir = log_dir
        stream.flush()
        # a private copy of the terminal's descriptor: steps redirect descriptors 1 and 2 to their logs
        self.stream = os.fdopen(os.dup(stream.fileno()), 'w', buffering=1)
        self.desc: Optional[str] = None
        self.ran: list[tuple[str, float]] = []  # (description, seconds) of every step that ran
        self.timings: list[tuple[str, float]] = []  # (step name, seconds) of every step that ran

    def print(self, text: str = '') -> None:
        self.stream.write(text + '\n')
        self.stream.flush()

    def progress_hook(self) -> Optional[ConsoleProgressHook]:
        """A bar for the current step's runner (None outside a step)."""
        return ConsoleProgressHook(self.stream, self.desc) if self.desc is not None else None

    @contextlib.contextmanager
    def step(self, name: str, desc: str, summary: Optional[str] = None) -> Iterator[str]:
        """Send descriptors 1 and 2 (Python, logging handlers, C code, worker processes) to
        ``log_dir/<name>.log`` while the block runs; yields the log's path. ``desc`` names the step on its
        progress bar, ``summary`` (default ``desc``) in :attr:`ran`.

        Raises:
            StageFailed: the block raised; the traceback is in the log and its last lines on the terminal.
        """
        os.makedirs(self.log_dir, exist_ok=True)
        log_path = osp.join(self.log_dir, f'{name}.log')
        sys.stdout.flush()
        sys.stderr.flush()
        saved, streams = (os.dup(1), os.dup(2)), (sys.stdout, sys.stderr)
        outer_desc, self.desc = self.desc, desc
        start = time.time()
        try:
            with open(log_path, 'a') as log:
                log.write(f'\n===== {desc} ({time.strftime("%Y-%m-%d %H:%M:%S")}) =====\n')
                log.flush()
                os.dup2(log.fileno(), 1)
                os.dup2(log.fileno(), 2)
                sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__  # the streams of descriptors 1 and 2
                try:
                    yield log_path
                except BaseException:
                    traceback.print_exc()
                    raise
                finally:
                    sys.stdout.flush()
                    sys.stderr.flush()
                    sys.stdout, sys.stderr = streams
                    os.dup2(saved[0], 1)
                    os.dup2(saved[1], 2)
            self.ran.append((summary or desc, time.time() - start))
            self.timings.append((name, time.time() - start))
        except Exception as error:
            self.print(f'  {desc}: FAILED after {format_duration(time.time() - start)}; full log: {log_path}')
            self.print('  | ' + '\n  | '.join(tail(log_path, TAIL_LINES)))
            raise StageFailed(desc, log_path) from error
        except BaseException:
            self.print(f'  {desc}: interrupted; log: {log_path} (a rerun resumes from the last checkpoint)')
            raise
        finally:
            os.close(saved[0])
            os.close(saved[1])
            self.desc = outer_desc

    def __enter__(self) -> MainJobConsole:
        """Install as the console that :func:`step` and :func:`attach_progress` use."""
        global _INSTALLED
        self._outer, _INSTALLED = _INSTALLED, self
        return self

    def __exit__(self, *exc) -> None:
        global _INSTALLED
        _INSTALLED = self._outer
        self.stream.flush()


_INSTALLED: Optional[MainJobConsole] = None


def step(name: str, desc: str, summary: Optional[str] = None) -> contextlib.AbstractContextManager:
    """:meth:`MainJobConsole.step` of the installed console; a no-op outside the main job."""
    return _INSTALLED.step(name, desc, summary) if _INSTALLED is not None else contextlib.nullcontext()


def attach_progress(runner: Runner) -> None:
    """Show ``runner``'s training or test on the terminal when it runs inside a step of the main job."""
    hook = _INSTALLED.progress_hook() if _INSTALLED is not None else None
    if hook is not None:
        runner.register_hook(hook)


def tail(path: str, lines: int) -> list[str]:
    """The last ``lines`` lines of a text file."""
    with open(path, errors='replace') as f:
        return [line.rstrip('\n') for line in deque(f, maxlen=lines)]


def format_duration(seconds: float) -> str:
    """``75`` -> ``'1m15s'``; ``8`` -> ``'8s'``."""
    minutes, seconds = divmod(int(round(seconds)), 60)
    return f'{minutes}m{seconds:02d}s' if minutes else f'{seconds}s'
