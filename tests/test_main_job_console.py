"""The main job's terminal: a step's output goes to its log file, a failure shows the log, progress bars."""
import logging
import os
import os.path as osp
import subprocess
import sys
from types import SimpleNamespace

import pytest

from mmdistill.apis.console import (
    ConsoleProgressHook,
    MainJobConsole,
    StageFailed,
    attach_progress,
    format_duration,
    step,
)


@pytest.fixture
def console(tmp_path):
    with open(tmp_path / 'terminal.txt', 'w') as terminal:
        yield MainJobConsole(str(tmp_path / 'logs'), stream=terminal), tmp_path / 'terminal.txt'


def test_a_step_sends_every_kind_of_output_to_its_log(console, capfd):
    console, terminal = console
    with console, step('stage.one', 'the first stage') as log_path:
        print('from python')
        handler = logging.StreamHandler(sys.stdout)  # like mmengine's logger, made inside the step
        logger = logging.getLogger('console-test')
        logger.addHandler(handler)
        logger.warning('from logging')
        logger.removeHandler(handler)
        os.write(1, b'from the descriptor\n')
        subprocess.run([sys.executable, '-c', 'import sys; print("from a child"); print("child err", file=sys.stderr)'],
                       check=True)
    console.print('a row line')
    print('after the step')
    log = open(log_path).read()
    for text in ('the first stage', 'from python', 'from logging', 'from the descriptor', 'from a child', 'child err'):
        assert text in log, text
    assert log_path == osp.join(console.log_dir, 'stage.one.log')
    assert open(terminal).read() == 'a row line\n'  # nothing of the step reached the terminal
    assert capfd.readouterr().out == 'after the step\n'  # descriptors restored
    assert [desc for desc, _ in console.ran] == ['the first stage']


def test_a_failing_step_shows_its_log_and_last_lines(console):
    console, terminal = console
    with console, pytest.raises(StageFailed) as error:
        with step('broken', 'a broken stage'):
            print('working on it')
            raise ValueError('the reason it broke')
    shown = open(terminal).read()
    assert 'a broken stage: FAILED' in shown and error.value.log in shown
    assert 'ValueError: the reason it broke' in shown and 'working on it' in shown
    assert 'ValueError: the reason it broke' in open(error.value.log).read()
    assert console.ran == []  # a failed step does not count as done


def test_progress_bars_only_inside_a_main_job_step(console):
    console, terminal = console
    registered = []
    runner = SimpleNamespace(register_hook=registered.append)
    attach_progress(runner)  # no console installed: the runner is left alone
    with console:
        attach_progress(runner)  # installed but outside a step: no bar either
        with step('train', 'train a model'):
            attach_progress(runner)
    assert len(registered) == 1 and isinstance(registered[0], ConsoleProgressHook)


def test_progress_hook_counts_resumed_training_and_test_batches(console):
    console, terminal = console
    hook = ConsoleProgressHook(console.stream, 'distil X')
    runner = SimpleNamespace(max_iters=5, iter=2, test_dataloader=[0] * 3)
    hook.before_train(runner)
    for i in range(3):
        hook.after_train_iter(runner, i, outputs=dict(loss=1.5 - i))
    hook.after_train(runner)
    hook.before_test(runner)
    for i in range(3):
        hook.after_test_iter(runner, i)
    hook.after_test(runner)
    lines = [line.split('\r')[-1] for line in open(terminal, newline='').read().split('\n')[:-1]]
    assert len(lines) == 2, lines  # one finished bar per loop
    assert lines[0].startswith('distil X') and '5/5' in lines[0] and 'loss -0.500' in lines[0]
    assert '3/3' in lines[1]


def test_durations_read_as_minutes_and_seconds():
    assert format_duration(8.4) == '8s'
    assert format_duration(75) == '1m15s'
    assert format_duration(3600) == '60m00s'
