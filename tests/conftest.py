"""Shared test set-up."""
import pytest
import torch
from mmengine.registry import DefaultScope


@pytest.fixture(autouse=True)
def mmdistill_default_scope():
    """Each test starts in mmdistill's default scope, whatever scope a runner or inferencer of an earlier
    test made current (mmengine keeps the latest one process-wide)."""
    with DefaultScope.overwrite_default_scope('mmdistill'):
        yield


@pytest.fixture(scope='session')
def quickstart_world():
    """The main job's world with its OV-detection annotations, and its tiny CLIP (data/synthetic_world,
    work_dirs/quickstart/tiny_clip.pt), built where missing (about 12 min on 2 cores): tests that train the
    shipped world configs use them."""
    from mmdistill.apis.runs import QuickstartPaths, ensure_world, pretrained_tiny_clip
    from mmdistill.datasets.ov_splits import prepare_ov_world
    paths = QuickstartPaths()  # relative, as the main job's: cache keys name some files by path
    ensure_world(paths, seed=0, force=False)
    prepare_ov_world(paths.world)  # the F-ViT configs read them (kept when up to date)
    pretrained_tiny_clip(paths, seed=0, force=False)
    return paths


@pytest.fixture(scope='module')
def one_torch_thread():
    """One torch thread for a module's tests (``pytestmark = pytest.mark.usefixtures('one_torch_thread')``): on
    a machine shared with other jobs two threads wait on each other (5-20 times slower: docs/benchmarks.md,
    web demo)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
