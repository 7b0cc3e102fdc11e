"""Shared test set-up."""
import pytest
from mmengine.registry import DefaultScope


@pytest.fixture(autouse=True)
def mmdistill_default_scope():
    """Each test starts in mmdistill's default scope, whatever scope a runner or inferencer of an earlier
    test made current (mmengine keeps the latest one process-wide)."""
    with DefaultScope.overwrite_default_scope('mmdistill'):
        yield
