"""The benchmark (``mmdistill/engine/{flops,profiling,benchmark}.py``, ``tools/analysis/benchmark.py``,
``gpu_speed.py``): FLOP counts equal the analytic count, compiled towers equal eager ones, bfloat16 autocast
keeps the losses in float32, and the entry points run on CPU with synthetic data."""
import os.path as osp

import pytest
import torch
from torch.nn.attention import SDPBackend, sdpa_kernel
from train_helpers import load_tool

import mmdistill  # noqa: F401
from mmdistill.clip.tower import CLIPTower
from mmdistill.distill.terms.spatial_correlation import spatial_correlation_loss
from mmdistill.engine.benchmark import (
    DOCS_HEADER,
    DOCS_SECTION,
    append_docs,
    set_precision,
    strip_checkpoints,
    summary_row,
)
from mmdistill.engine.bf16 import native_bf16
from mmdistill.engine.flops import AttentionKernels, counting, gpu_peak, vit_tower_flops
from mmdistill.utils import at_least_float32

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))


def tool(name: str):
    return load_tool(f'analysis/{name}')


# arch, input size, patch, MLP width, MLP matrices (GELU 2, SwiGLU 3), frozen teacher (eval, no_grad)
TOWERS = [('mmdistill-tiny-ViT-P8', (40, 48), 8, 192, 2, False),
          ('mmdistill-world-ViT-P12', (48, 60), 12, 256, 2, True),  # 4 heads: nn.MultiheadAttention's fast path
          ('mmdistill-tiny-EVA-P8', (40, 48), 8, 128, 3, False)]


@pytest.mark.parametrize('arch,size,patch,mlp_dim,mlp_matrices,frozen', TOWERS)
def test_counted_flops_of_a_small_vit_equal_the_analytic_count(arch, size, patch, mlp_dim, mlp_matrices, frozen):
    torch.manual_seed(0)
    tower = CLIPTower(arch, trainable='none' if frozen else 'blocks').train(not frozen)
    images = torch.randn(2, 3, *size)
    with torch.set_grad_enabled(not frozen), counting('cpu') as counter:
        tower(images, cls=True, dense=True)
    expected = vit_tower_flops(2, size, patch, tower.width, tower.num_blocks, mlp_dim, tower.embed_dim,
                               mlp_matrices=mlp_matrices)
    assert counter.get_total_flops() == expected
    if frozen:  # outside `counting`, the frozen tower takes the native path that has no FLOP formula
        with torch.no_grad(), AttentionKernels() as kernels:
            tower(images, cls=True, dense=True)
        assert kernels.calls == {'_native_multi_head_attention': tower.num_blocks}


def test_compiled_tower_blocks_equal_eager():
    torch.manual_seed(0)
    eager = CLIPTower('mmdistill-tiny-ViT-P8').eval()
    compiled = CLIPTower('mmdistill-tiny-ViT-P8', compiled_blocks=True).eval()
    assert list(compiled.state_dict()) == list(eager.state_dict())  # checkpoints are unchanged
    compiled.load_state_dict(eager.state_dict())
    images = torch.randn(2, 3, 32, 40)
    with torch.no_grad():
        a, b = eager(images, cls=True), compiled(images, cls=True)
    torch.testing.assert_close(b.cls, a.cls, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(b.dense, a.dense, rtol=1e-5, atol=1e-5)
    with torch.no_grad():  # the benchmark's FLOP step counts a compiled tower in full
        with counting('cpu') as eager_count:
            eager(images, cls=True)
        with counting('cpu') as compiled_count:
            compiled(images, cls=True)
    assert compiled_count.get_total_flops() == eager_count.get_total_flops() > 0


def test_bfloat16_autocast_keeps_the_scd_loss_in_float32():
    g = torch.Generator().manual_seed(0)
    student = torch.randn(8, 49, 64, generator=g)
    teacher = student + 0.5 * torch.randn(8, 49, 64, generator=g)
    reference = spatial_correlation_loss(student, teacher)
    with torch.autocast('cpu', dtype=torch.bfloat16):  # a bfloat16 forward hands over bfloat16 tokens
        loss = spatial_correlation_loss(student.bfloat16(), teacher.bfloat16())
    assert loss.dtype == torch.float32
    # only the inputs' rounding to bfloat16 is left; correlations in bfloat16 were 2e-3 off
    torch.testing.assert_close(loss, reference, rtol=1e-4, atol=0)
    assert at_least_float32(student.bfloat16()).dtype == torch.float32
    assert at_least_float32(student.double()).dtype == torch.float64


def test_peaks_precision_and_random_weights():
    assert gpu_peak('NVIDIA H200', 'bfloat16').tflops == 989.0
    assert gpu_peak('NVIDIA H100 PCIe', 'bfloat16').tflops == 756.0
    assert gpu_peak('NVIDIA A100-SXM4-80GB', 'float32').tflops == 19.5
    assert gpu_peak('Some GPU', 'bfloat16').tflops is None
    wrapper = dict(type='AmpOptimWrapper', dtype='float16', optimizer=dict(type='AdamW'))
    assert set_precision(wrapper, 'bf16', 'cpu') == 'float32'  # BF16OptimWrapper's default on CPUs
    assert wrapper['type'] == 'mmdistill.BF16OptimWrapper'  # found from mmdet / mmseg configs too
    assert 'dtype' not in wrapper
    wrapper['cpu_bf16'] = True
    assert set_precision(wrapper, 'bf16', 'cpu') == ('bfloat16' if native_bf16('cpu') else 'float32')
    assert set_precision(wrapper, 'fp32', 'cpu') == 'float32' and wrapper['type'] == 'OptimWrapper'
    assert 'cpu_bf16' not in wrapper
    wrapper = dict(type='AmpOptimWrapper', dtype='float16')
    assert set_precision(wrapper, 'config', 'cpu') == 'float32' and wrapper['type'] == 'OptimWrapper'
    model = dict(student=dict(checkpoint='a.pt'), backbone=dict(init_cfg=dict(type='Pretrained', checkpoint='b')),
                 teachers=[dict(refiner=dict(checkpoint='c.pth'))])
    strip_checkpoints(model)
    assert model == dict(student=dict(checkpoint=None), backbone=dict(), teachers=[dict(refiner=dict(checkpoint=None))])


def test_benchmark_entry_point_on_a_synthetic_distiller(tmp_path):
    result = tool('benchmark').main([
        'configs/clipself/clipself_patches_synthetic.py', '--steps', '1', '--warmup', '0', '--device', 'cpu',
        '--random-weights', '--synthetic', '--batch-size', '2', '--out', str(tmp_path / 'r.json')])
    train = result['train']
    assert train['parts'] == ['data', 'preprocess', 'teacher_forward', 'student_forward', 'loss_other', 'backward',
                              'optimizer']
    flops = train['flops']
    assert min(flops['teacher_forward'], flops['student_forward'], flops['backward']) > 0
    assert train['step_flops'] == sum(flops.values())
    # the student's backward: about twice its forward (no gradient for the frozen patch embedding's input)
    assert 1.5 < flops['backward'] / flops['student_forward'] < 2.1
    assert result['dtype'] == 'float32' and train['batch_size'] == 2 and train['peak_memory_mib'] > 0
    docs = tmp_path / 'benchmarks.md'
    docs.write_text('# Benchmarks\n')
    append_docs([summary_row(result)], str(docs))
    append_docs([summary_row(result)], str(docs))
    lines = docs.read_text().splitlines()
    assert lines.count(DOCS_SECTION) == 1 and lines.count(DOCS_HEADER) == 1
    assert sum(line.startswith('| 20') and 'clipself_patches_synthetic' in line for line in lines) == 2


def test_gpu_speed_smoke_runs_a_distiller_and_a_detector(tmp_path):
    # a clean clone has no world on disk: the smoke rows must not read its split files
    results = tool('gpu_speed').main(['--smoke', '--rows', 'refiner', 'fvit', 'c2s', '--device', 'cpu',
                                      '--out', str(tmp_path)])
    assert [r['label'] for r in results] == ['refiner', 'fvit', 'c2s']
    assert results[1]['inference']['gflops_per_image'] > 0 and results[1]['inference']['params'] > 0
    table = (tmp_path / 'table.md').read_text().splitlines()
    assert table[0] == DOCS_HEADER and len(table) == 5


def test_checkpointed_tower_recomputes_under_the_forward_attention_kernel():
    """``BF16OptimWrapper`` runs the forward under ``sdpa_kernel(MATH)`` on CPUs; the backward's recomputation
    of a checkpointed block must use the same kernel (another one saves other tensors: a CheckpointError)."""
    torch.manual_seed(0)
    plain = CLIPTower('mmdistill-tiny-ViT-P8')
    checkpointed = CLIPTower('mmdistill-tiny-ViT-P8', grad_checkpointing=True)
    checkpointed.load_state_dict(plain.state_dict())
    images = torch.randn(2, 3, 32, 40)
    grads = []
    for tower in (plain, checkpointed):
        with sdpa_kernel(SDPBackend.MATH):
            loss = tower(images, cls=True).cls.square().sum()
        loss.backward()  # outside the kernel context, as OptimWrapper.backward
        grads.append([p.grad for p in tower.parameters() if p.requires_grad])
    for a, b in zip(*grads):
        torch.testing.assert_close(b, a, rtol=1e-5, atol=1e-6)
