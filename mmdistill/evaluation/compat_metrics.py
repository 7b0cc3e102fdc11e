"""mmdet's COCO and LVIS metrics with their failures on current NumPy fixed, mmdet / lvis / numpy left unchanged.

Two pieces of third-party evaluation code stop with an error on NumPy >= 1.24 (the project pins NumPy 2):

* ``lvis`` 0.5.3, the last release of the LVIS API (2020; no maintained fork is on PyPI), calls ``np.float``
  in ``LVISEval.accumulate``, an alias NumPy 1.24 removed: mmdet's ``LVISMetric`` dies with
  ``AttributeError: module 'numpy' has no attribute 'float'`` at every evaluation.
* mmdet 3.3's ``eval_recalls`` (``CocoMetric`` / ``LVISMetric`` with ``metric='proposal_fast'``) stacks the
  per-image ``(gts, proposals)`` IoU matrices with ``np.array(all_ious)``; images with different box counts give
  a ragged list, a ``ValueError`` since NumPy 1.24.

The fixes are new classes under new names (``CompatLVISMetric``, ``CompatCocoMetric``, in mmdet's ``METRICS``).
Their methods run the original code objects with a few global names bound differently (:func:`rebind`): no
source is copied, nothing in mmdet, lvis or numpy is modified, and the stock metrics behave as before (they still
fail). Only the methods that need it are rebound: ``LVISEval``'s methods that name a removed alias see a NumPy
namespace that has it (:data:`NUMPY_WITH_ALIASES`), and ``fast_eval_recall`` calls :func:`eval_recalls`.
"""
from __future__ import annotations

import dis
import functools
import types
import warnings
from typing import Callable, Optional, Sequence, Union

import numpy as np
from mmdet.evaluation import CocoMetric, LVISMetric
from mmdet.evaluation.functional import bbox_overlaps, print_recall_summary
from mmdet.evaluation.functional.recall import _recalls, set_recall_param
from mmdet.registry import METRICS as MMDET_METRICS

# NumPy aliases of builtins deprecated in 1.20 and removed in 1.24 (``np.float`` ...), with what they stood for.
REMOVED_ALIASES = dict(float=float, int=int, bool=bool, object=object, complex=complex, str=str)


class _NumpyWithAliases(types.ModuleType):
    """``numpy`` with the removed builtin aliases put back: every other name is numpy's own."""

    def __getattr__(self, name: str):
        return getattr(np, name)


def numpy_has(name: str) -> bool:
    """Whether ``np.<name>`` exists (quietly: NumPy 2 warns on some removed names before raising)."""
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', FutureWarning)
        return hasattr(np, name)


NUMPY_WITH_ALIASES = _NumpyWithAliases('numpy', 'numpy with the builtin aliases that NumPy 1.24 removed')
for _name, _builtin in REMOVED_ALIASES.items():
    if not numpy_has(_name):
        setattr(NUMPY_WITH_ALIASES, _name, _builtin)


def rebind(fn: Callable, **names) -> Callable:
    """A copy of function ``fn`` (same code, defaults and closure) whose global ``names`` resolve to new objects.

    ``fn``'s module is untouched: the copy reads a snapshot of that module's globals with ``names`` replaced.
    """
    namespace = dict(fn.__globals__, **names)
    copy = types.FunctionType(fn.__code__, namespace, fn.__name__, fn.__defaults__, fn.__closure__)
    copy.__kwdefaults__ = fn.__kwdefaults__
    return functools.update_wrapper(copy, fn)


def _numpy_attributes(code: types.CodeType) -> set[str]:
    """Names read as ``np.<name>`` by ``code`` and the functions / comprehensions nested in it."""
    names = set()
    instructions = list(dis.get_instructions(code))
    for first, second in zip(instructions, instructions[1:]):
        if first.opname in ('LOAD_GLOBAL', 'LOAD_NAME') and first.argval == 'np' and second.opname in (
                'LOAD_ATTR', 'LOAD_METHOD'):
            names.add(second.argval)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _numpy_attributes(const)
    return names


def uses_removed_alias(fn: Callable) -> bool:
    """Whether ``fn`` reads ``np.<alias>`` for an alias this NumPy no longer has."""
    return any(not numpy_has(name) for name in _numpy_attributes(fn.__code__) & set(REMOVED_ALIASES))


def numpy2_lvis_eval() -> Optional[type]:
    """``lvis.LVISEval`` whose methods that name a removed NumPy alias run with :data:`NUMPY_WITH_ALIASES` as
    ``np``; ``None`` when ``lvis`` is not installed."""
    try:
        from lvis import LVISEval
    except ImportError:
        return None
    fixed = {name: rebind(fn, np=NUMPY_WITH_ALIASES) for name, fn in vars(LVISEval).items()
             if isinstance(fn, types.FunctionType) and uses_removed_alias(fn)}
    return type('LVISEval', (LVISEval, ), dict(fixed, __module__=__name__, __doc__=LVISEval.__doc__))


FixedLVISEval = numpy2_lvis_eval()


def eval_recalls(gts: Sequence[Optional[np.ndarray]],
                 proposals: Sequence[np.ndarray],
                 proposal_nums: Union[int, Sequence[int], None] = None,
                 iou_thrs: Union[float, Sequence[float], None] = 0.5,
                 logger=None,
                 use_legacy_coordinate: bool = False) -> np.ndarray:
    """Proposal recall: mmdet's ``eval_recalls`` for images with any numbers of boxes.

    The IoU matrices, ``(n_i, min(k_i, max(proposal_nums)))`` per image, are kept in an object array (mmdet's
    ``np.array(all_ious)`` fails when they differ in shape); the greedy one-to-one matching of each ground-truth
    box to its best remaining proposal, the counting and the summary table are mmdet's (``_recalls``,
    ``print_recall_summary``).

    Args:
        gts: ground-truth boxes ``(n_i, 4)`` (x1, y1, x2, y2) per image; ``None`` or empty for none.
        proposals: ``(k_i, 4)`` boxes in score order, or ``(k_i, 5)`` with scores in the last column (sorted here).
        proposal_nums: the top-N proposal counts to evaluate.
        iou_thrs: IoU thresholds.
        logger: where the summary table goes (``mmengine.logging.print_log``).
        use_legacy_coordinate: mmdet 1.x boxes (``x2 - x1 + 1``).

    Returns:
        ``(len(proposal_nums), len(iou_thrs))``: the fraction of all ground-truth boxes matched at IoU >= thr
        by the top-N proposals of their image.
    """
    if len(gts) != len(proposals):
        raise ValueError(f'{len(gts)} images of ground truth but {len(proposals)} of proposals')
    proposal_nums, iou_thrs = set_recall_param(proposal_nums, iou_thrs)
    all_ious = np.empty(len(gts), dtype=object)
    for i, (gt, boxes) in enumerate(zip(gts, proposals)):
        if boxes.ndim == 2 and boxes.shape[1] == 5:
            boxes = boxes[np.argsort(boxes[:, 4])[::-1]]
        boxes = boxes[:int(np.max(proposal_nums)), :4]
        if gt is None or gt.shape[0] == 0:
            all_ious[i] = np.zeros((0, boxes.shape[0]), dtype=np.float32)
        else:
            all_ious[i] = bbox_overlaps(gt, boxes, use_legacy_coordinate=use_legacy_coordinate)
    recalls = _recalls(all_ious, proposal_nums, iou_thrs)
    print_recall_summary(recalls, proposal_nums, iou_thrs, logger=logger)
    return recalls


@MMDET_METRICS.register_module()
class CompatCocoMetric(CocoMetric):
    """mmdet's ``CocoMetric`` whose ``metric='proposal_fast'`` (average recall over ``iou_thrs``, IoU 0.5:0.95 by
    default, at each of ``proposal_nums``: ``AR@100``, ``AR@300``, ``AR@1000``) works with any numbers of boxes per
    image (:func:`eval_recalls`). Everything else is ``CocoMetric``'s."""

    fast_eval_recall = rebind(CocoMetric.fast_eval_recall, eval_recalls=eval_recalls)


@MMDET_METRICS.register_module()
class CompatLVISMetric(LVISMetric):
    """mmdet's ``LVISMetric`` that evaluates under NumPy >= 1.24: ``compute_metrics`` runs lvis' ``LVISEval`` with
    ``np.float`` available to the methods that use it (:func:`numpy2_lvis_eval`), and ``proposal_fast`` uses
    :func:`eval_recalls`. Arguments, results and keys are ``LVISMetric``'s (``bbox_APr``, ``segm_APr``...)."""

    compute_metrics = rebind(LVISMetric.compute_metrics, LVISEval=FixedLVISEval)
    fast_eval_recall = rebind(LVISMetric.fast_eval_recall, eval_recalls=eval_recalls)
