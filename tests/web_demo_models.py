"""A small world for the web demo's tests (its function test and its browser test)."""
from pathlib import Path

from mmdistill.datasets.synthetic import generate_world


def small_world(root: Path) -> str:
    """A world of 8 train and 4 val images (96 px) with its splits."""
    world = str(root / 'world')
    generate_world(world, seed=7, num_train=8, num_val=4, workers=1, progress=False)
    return world
