"""Distiller loss terms against hand-written references of the papers' equations."""
import inspect
import math
import re

import pytest
import torch

from mmdistill.distill.terms import (
    RegionToCLSLoss,
    RegionToTextLoss,
    SpatialCorrelationLoss,
    TokenContrastiveLoss,
    spatial_correlation_loss,
)
from mmdistill.registry import MODELS

K, L, D, C = 3, 5, 8, 7
TERMS = [RegionToCLSLoss, SpatialCorrelationLoss, TokenContrastiveLoss, RegionToTextLoss]


def rand(*shape, seed=0, dtype=torch.float64):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def unit(v):
    return v / math.sqrt(sum(float(x) ** 2 for x in v))


def dot(a, b):
    return sum(float(x) * float(y) for x, y in zip(a, b))


def softmax(xs):
    m = max(xs)
    e = [math.exp(x - m) for x in xs]
    return [x / sum(e) for x in e]


# ---------------------------------------------------------------- references
def ref_region_cls(s, t):
    return 1 - sum(dot(unit(s[k]), unit(t[k])) for k in range(len(s))) / len(s)


def ref_scd(zs, zt, tau_s, tau_t, normalize):
    """Eq. 3-5 with plain loops."""
    total = 0.0
    for k in range(len(zs)):
        a = [unit(z) if normalize else z for z in zs[k]]
        b = [unit(z) if normalize else z for z in zt[k]]
        n = len(a)
        for j in range(n):
            q = softmax([dot(a[j], a[m]) / tau_s for m in range(n)])
            p = softmax([dot(b[j], b[m]) / tau_t for m in range(n)])
            total += -sum(p[m] * math.log(q[m]) for m in range(n)) / n
    return total / len(zs)


def ref_nce(pred, target, tau, normalize, symmetric):
    """Eq. 13 with plain loops (optionally both directions)."""
    def one_way(x, y):
        total = 0.0
        for k in range(len(x)):
            a = [unit(z) if normalize else z for z in x[k]]
            b = [unit(z) if normalize else z for z in y[k]]
            n = len(a)
            for j in range(n):
                total -= math.log(softmax([dot(a[j], b[m]) / tau for m in range(n)])[j]) / n
        return total / len(x)
    return (one_way(pred, target) + one_way(target, pred)) / 2 if symmetric else one_way(pred, target)


def ref_cos(pred, target):
    """Eq. 14, shifted by 1."""
    n = len(pred) * len(pred[0])
    return 1 - sum(dot(unit(pred[k][j]), unit(target[k][j])) for k in range(len(pred))
                   for j in range(len(pred[0]))) / n


def ref_region_text(s, t, text, tau, min_score, w_c, w_d):
    words = [unit(c) for c in text]
    ce, kl, kept = 0.0, 0.0, 0
    for k in range(len(s)):
        p = softmax([dot(unit(t[k]), c) / tau for c in words])
        label = max(range(len(p)), key=p.__getitem__)
        if p[label] <= min_score:
            continue
        q = softmax([dot(unit(s[k]), c) / tau for c in words])
        ce -= math.log(q[label])
        kl += sum(pi * (math.log(pi) - math.log(qi)) for pi, qi in zip(p, q) if pi > 0)
        kept += 1
    return (w_c * ce + w_d * kl) / kept


# ---------------------------------------------------------------- common contract
@pytest.mark.parametrize('cls', TERMS)
def test_registered_with_inputs_matching_forward(cls):
    term = MODELS.build(dict(type=cls.__name__, loss_weight=0.5))
    assert isinstance(term, cls) and term.loss_weight == 0.5
    assert tuple(inspect.signature(cls.forward).parameters)[1:] == cls.inputs


def _inputs(cls, k, dtype=torch.float64, seed=0):
    if cls in (RegionToCLSLoss, RegionToTextLoss):
        s, t = rand(k, D, seed=seed, dtype=dtype), rand(k, D, seed=seed + 1, dtype=dtype)
    else:
        s, t = rand(k, L, D, seed=seed, dtype=dtype), rand(k, L, D, seed=seed + 1, dtype=dtype)
    extra = (rand(C, D, seed=seed + 2, dtype=dtype),) if cls is RegionToTextLoss else ()
    return s.requires_grad_(), t.requires_grad_(), *extra


@pytest.mark.parametrize('cls', TERMS)
def test_empty_gives_zero_with_grad_path(cls):
    term = cls(min_score=0.0) if cls is RegionToTextLoss else cls()
    s, t, *extra = _inputs(cls, 0)
    loss = term(s, t, *extra)
    assert loss.dim() == 0 and loss.item() == 0.0 and loss.requires_grad
    loss.backward()
    assert s.grad is not None and s.grad.shape == s.shape


@pytest.mark.parametrize('cls', TERMS)
def test_teacher_gets_no_gradient(cls):
    term = cls(min_score=0.0) if cls is RegionToTextLoss else cls()
    s, t, *extra = _inputs(cls, K)
    term(s, t, *extra).backward()
    assert t.grad is None
    assert s.grad is not None and s.grad.abs().sum() > 0


@pytest.mark.parametrize('cls', TERMS)
def test_mismatched_shapes_name_both(cls):
    term = cls()
    s, t, *extra = _inputs(cls, K)
    for bad in (t[..., :-1], t[:-1]) + ((t[:, :-1],) if t.dim() == 3 else ()):
        with pytest.raises(ValueError, match=f'{re.escape(str(tuple(s.shape)))}.*{re.escape(str(tuple(bad.shape)))}'):
            term(s, bad, *extra)
    with pytest.raises(ValueError):
        term(s.flatten(), t.flatten(), *extra)


# ---------------------------------------------------------------- RegionToCLSLoss
def test_region_cls_matches_reference():
    s, t = rand(K, D), rand(K, D, seed=1)
    assert float(RegionToCLSLoss()(s, t)) == pytest.approx(ref_region_cls(s, t), abs=1e-10)
    assert float(RegionToCLSLoss()(s, 3 * s)) == pytest.approx(0.0, abs=1e-12)


# ---------------------------------------------------------------- SpatialCorrelationLoss
@pytest.mark.parametrize('tau_s,tau_t,normalize', [(0.2, 0.2, True), (0.2, 0.15, True), (1.0, 0.5, False)])
def test_scd_matches_reference(tau_s, tau_t, normalize):
    zs, zt = rand(K, L, D), rand(K, L, D, seed=1)
    term = SpatialCorrelationLoss(tau_s=tau_s, tau_t=tau_t, normalize=normalize)
    expected = ref_scd(zs, zt, tau_s, tau_t, normalize)
    assert float(term(zs, zt)) == pytest.approx(expected, rel=1e-9)
    assert float(spatial_correlation_loss(zs, zt, tau_s, tau_t, normalize)) == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize('normalize', [True, False])
def test_scd_zero_gradient_at_teacher_with_equal_temperatures(normalize):
    zt = rand(K, L, D) * (1.0 if normalize else 0.3)
    zs = zt.clone().requires_grad_()
    SpatialCorrelationLoss(normalize=normalize)(zs, zt).backward()
    assert zs.grad.abs().max() < 1e-10


def test_scd_nonzero_gradient_otherwise():
    zt = rand(K, L, D)
    zs = zt.clone().requires_grad_()
    SpatialCorrelationLoss(tau_s=0.2, tau_t=0.1)(zs, zt).backward()
    assert zs.grad.abs().max() > 1e-4
    zs = (zt + 0.5 * rand(K, L, D, seed=3)).requires_grad_()
    SpatialCorrelationLoss()(zs, zt).backward()
    assert zs.grad.abs().max() > 1e-4


def test_scd_half_precision_is_computed_in_float32():
    zs, zt = rand(K, L, D, dtype=torch.bfloat16), rand(K, L, D, seed=1, dtype=torch.bfloat16)
    loss = spatial_correlation_loss(zs, zt)
    assert loss.dtype == torch.float32
    assert loss.item() == pytest.approx(ref_scd(zs.double(), zt.double(), 0.2, 0.2, True), rel=1e-5)


def test_scd_rejects_bad_temperature():
    with pytest.raises(ValueError, match='tau_s'):
        SpatialCorrelationLoss(tau_s=0.0)


# ---------------------------------------------------------------- TokenContrastiveLoss
@pytest.mark.parametrize('tau,normalize,symmetric', [(1.0, False, False), (0.1, True, False), (0.5, False, True)])
def test_infonce_matches_reference(tau, normalize, symmetric):
    pred, target = rand(K, L, D), rand(K, L, D, seed=1)
    term = TokenContrastiveLoss(tau=tau, normalize=normalize, symmetric=symmetric)
    assert float(term(pred, target)) == pytest.approx(ref_nce(pred, target, tau, normalize, symmetric), rel=1e-9)


def test_cosine_matches_reference():
    pred, target = rand(K, L, D), rand(K, L, D, seed=1)
    assert float(TokenContrastiveLoss(mode='cosine')(pred, target)) == pytest.approx(ref_cos(pred, target),
                                                                                     rel=1e-9)


@pytest.mark.parametrize('kw', [dict(), dict(tau=0.1, normalize=True), dict(symmetric=True)])
def test_infonce_lower_for_matched_than_shuffled(kw):
    target = rand(K, L, 16)
    pred = target + 0.1 * rand(K, L, 16, seed=1)
    shuffled = target[:, torch.roll(torch.arange(L), 1)]
    term = TokenContrastiveLoss(**kw)
    assert float(term(pred, target)) < float(term(pred, shuffled))


def test_infonce_negatives_stay_within_group():
    pred, target = rand(K, L, D), rand(K, L, D, seed=1)
    other = torch.cat([target[:1], rand(K - 1, L, D, seed=5)])
    term = TokenContrastiveLoss()
    # the loss of group 0 does not depend on the other groups' targets
    assert float(term(pred[:1], target[:1])) == pytest.approx(float(term(pred[:1], other[:1])))
    assert float(term(pred, target)) != pytest.approx(float(term(pred, other)))


def test_token_contrastive_rejects_unknown_mode():
    with pytest.raises(ValueError, match='mode'):
        TokenContrastiveLoss(mode='l2')


# ---------------------------------------------------------------- RegionToTextLoss
@pytest.mark.parametrize('tau,min_score,w_c,w_d', [(0.01, 0.0, 1.0, 1.0), (0.1, 0.0, 0.5, 2.0), (0.5, 0.2, 1.0, 1.0)])
def test_region_text_matches_reference(tau, min_score, w_c, w_d):
    s, t, text = rand(6, D), rand(6, D, seed=1), rand(C, D, seed=2)
    term = RegionToTextLoss(tau=tau, min_score=min_score, contrastive_weight=w_c, distill_weight=w_d)
    expected = ref_region_text(s, t, text, tau, min_score, w_c, w_d)
    assert float(term(s, t, text)) == pytest.approx(expected, rel=1e-8)


def test_region_text_filters_low_confidence_regions():
    text = rand(C, D, seed=2)
    confident = text[[0, 1]] * 5  # teacher embeddings equal to a concept: confident matches
    vague = text.mean(0, keepdim=True)
    t = torch.cat([confident, vague])
    s = rand(3, D, seed=3).requires_grad_()
    term = RegionToTextLoss(tau=0.5, min_score=0.3)
    expected = ref_region_text(s[:2].detach(), t[:2], text, 0.5, 0.3, 1.0, 1.0)
    loss = term(s, t, text)
    assert loss.item() == pytest.approx(expected, rel=1e-8)
    loss.backward()
    assert s.grad[2].abs().max() == 0 and s.grad[:2].abs().max() > 0
    none_kept = RegionToTextLoss(tau=0.5, min_score=0.99)(s, t, text)
    assert none_kept.item() == 0.0 and none_kept.requires_grad


def test_region_text_pulls_student_towards_teacher_concept():
    text = rand(C, D, seed=2)
    t = text[[4]].clone()
    term = RegionToTextLoss(tau=0.1, min_score=0.0)
    assert float(term(text[[4]] + 0.01, t, text)) < float(term(text[[2]], t, text))


def test_region_text_validates_text():
    s, t = rand(K, D), rand(K, D, seed=1)
    with pytest.raises(ValueError, match=r'\(7, 6\).*\(3, 8\)'):
        RegionToTextLoss()(s, t, rand(C, D - 2))
    with pytest.raises(ValueError, match='min_score'):
        RegionToTextLoss(min_score=1.0)


def test_at_least_float32_upcasts_half_precision_and_keeps_float32_and_float64():
    from mmdistill.utils import at_least_float32
    x = torch.tensor([1.0, 2.5, -3.0])
    for dtype, expected in [(torch.bfloat16, torch.float32), (torch.float16, torch.float32),
                            (torch.float32, torch.float32), (torch.float64, torch.float64)]:
        y = at_least_float32(x.to(dtype))
        assert y.dtype == expected
        assert torch.equal(y, x.to(expected))
    assert at_least_float32(None) is None and at_least_float32(3) == 3  # not tensors: as they are
