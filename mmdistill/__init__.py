"""mmdistill: CLIP dense-feature distillation for OpenMMLab.

Importing the package (``custom_imports = dict(imports=['mmdistill'])``) applies
the compatibility fixes of :mod:`mmdistill.utils` and registers every module.
"""
from . import utils  # noqa: F401  (first: the compatibility fixes)

# isort: split
from . import clip, datasets, det, distill, engine, evaluation, models, seg  # noqa: F401
from .version import __version__

__all__ = ['__version__']
