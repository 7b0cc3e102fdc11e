"""The default main job's terminal output is short and readable (slow: runs the main job on its caches, which
the learning tests build)."""
import os
import os.path as osp
import subprocess
import sys

import cv2
import pytest

pytestmark = pytest.mark.slow
REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
MAX_LINES = 150


def test_default_main_job_prints_headers_rows_tables_and_pictures_in_few_lines():
    result = subprocess.run([sys.executable, 'tools/quickstart.py'], cwd=REPO, capture_output=True,
                            env=dict(os.environ, MMDISTILL_OFFLINE='1'), timeout=3600)
    output = (result.stdout + result.stderr).decode()
    assert result.returncode == 0, output[-3000:]
    lines = output.count('\n')
    assert lines < MAX_LINES, f'{lines} lines:\n{output}'
    assert 'mmengine - INFO' not in output and 'Config:' not in output  # runners' logs go to the log files
    for header in ('[1/6] synthetic world', '[3/6] Dense zero-shot accuracy', '[6/6] results',
                   '| tower | boxes thing |', '| tower | novel AP50 |', 'logs: work_dirs/quickstart/logs/'):
        assert header in output, header
    pictures = output.split('pictures:\n')[1].split('tables:')[0].split()
    names = {osp.basename(p) for p in pictures}
    assert {'affinity_maps.png', 'feature_pca.png', 'per_class_accuracy.png', 'detections.png'} <= names, names
    for path in pictures:
        image = cv2.imread(osp.join(REPO, path))
        assert image is not None and min(image.shape[:2]) >= 100, path
