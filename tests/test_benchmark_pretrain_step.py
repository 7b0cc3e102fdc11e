"""tools/analysis/benchmark_pretrain_step.py runs and reports every requested variant."""
import json
import os.path as osp
import subprocess
import sys

from mmdistill.engine.bf16 import native_bf16

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
TOOL = osp.join(REPO, 'tools', 'analysis', 'benchmark_pretrain_step.py')


def test_reports_float32_variants_and_the_cpu(tmp_path):
    out = tmp_path / 'bench.json'
    subprocess.run([sys.executable, TOOL, '--arch', 'mmdistill-tiny-ViT-P8', '--batch', '4', '--image-size', '32',
                    '--iters', '1', '--warmup', '0', '--dtypes', 'float32', '--device', 'cpu', '--out', str(out)],
                   check=True, capture_output=True, cwd=REPO)
    report = json.loads(out.read_text())
    assert [(r['dtype'], r['attention']) for r in report['results']] == [('float32', 'default'), ('float32', 'math')]
    assert all(r['ms_median'] > r['ms_backward'] > 0 and r['gflops'] > 0 for r in report['results'])
    assert report['results'][0]['gflops'] == report['results'][1]['gflops']  # the kernel changes no FLOP
    assert report['machine']['native_bf16'] is native_bf16('cpu')


def test_rejects_zero_measured_steps():
    result = subprocess.run([sys.executable, TOOL, '--iters', '0'], capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 2 and '--iters must be at least 1, got 0' in result.stderr
