"""PAMR (pixel-adaptive mask refinement): a step-by-step reference, its effect on a noisy mask, its registration."""
import pytest
import torch
from mmengine.registry import DefaultScope
from mmseg.registry import MODELS

import mmdistill  # noqa: F401
from mmdistill.seg import PAMR


def reference_pamr(image: torch.Tensor, mask: torch.Tensor, num_iter: int, dilations) -> torch.Tensor:
    """PAMR pixel by pixel on ``(K, H, W)`` / ``(C, H, W)``: neighbours at each dilation with clamped (replicated)
    borders; sigma per channel over the 3 x 3 neighbourhoods of all dilations (centre once per dilation,
    unbiased); weights = softmax over the 8 D neighbours of -mean_k |I_k(i) - I_k(j)| / (1e-8 + 0.1 sigma_k(i))."""
    k, h, w = image.shape
    image, mask = image.double(), mask.double()
    offsets = [(dy * d, dx * d) for d in dilations for dy in (-1, 0, 1) for dx in (-1, 0, 1)]

    def at(t, y, x):
        return t[:, min(max(y, 0), h - 1), min(max(x, 0), w - 1)]

    weights = {}
    for y in range(h):
        for x in range(w):
            sigma = torch.stack([at(image, y + oy, x + ox) for oy, ox in offsets], dim=1).std(dim=1)
            neighbours = [(oy, ox) for oy, ox in offsets if (oy, ox) != (0, 0)]
            kernel = torch.stack([-((image[:, y, x] - at(image, y + oy, x + ox)).abs() / (1e-8 + 0.1 * sigma)).mean()
                                  for oy, ox in neighbours])
            weights[y, x] = neighbours, kernel.softmax(dim=0)
    for _ in range(num_iter):
        new = torch.empty_like(mask)
        for (y, x), (neighbours, alpha) in weights.items():
            new[:, y, x] = sum(a * at(mask, y + oy, x + ox) for a, (oy, ox) in zip(alpha, neighbours))
        mask = new
    return mask.float()


def test_pamr_equals_a_pixel_by_pixel_reference():
    torch.manual_seed(0)
    image, mask = torch.randn(2, 3, 5, 7), torch.randn(2, 4, 5, 7)
    pamr = PAMR(num_iter=3, dilations=(1, 2))
    out = pamr(image, mask)
    assert out.shape == mask.shape
    for i in range(2):
        torch.testing.assert_close(out[i], reference_pamr(image[i], mask[i], 3, (1, 2)), rtol=1e-4, atol=1e-5)
    # Scores at another size are resized to the image first.
    assert pamr(image, mask[..., :3, :4]).shape == mask.shape


def test_pamr_moves_a_noisy_mask_towards_the_image_edges():
    torch.manual_seed(0)
    h, w = 24, 32
    regions = torch.zeros(h, w, dtype=torch.long)
    regions[:, 13:] = 1  # an edge between columns 12 and 13
    regions[4:12, 20:28] = 2  # a square
    colours = torch.tensor([[1.0, -1.0, 0.5], [-1.0, 1.0, 0.0], [0.0, 0.0, -1.5]])
    image = colours[regions].permute(2, 0, 1)[None] + 0.05 * torch.randn(1, 3, h, w)
    truth = torch.nn.functional.one_hot(regions, 3).permute(2, 0, 1)[None].float()
    noisy = truth + 0.9 * torch.randn(1, 3, h, w)
    pamr = PAMR(num_iter=10, dilations=(1, 2))
    refined = pamr(image, noisy).argmax(dim=1)[0] == regions
    # A flat image gives every neighbour the same weight: plain smoothing, blind to the edges.
    smoothed = pamr(torch.ones(1, 3, h, w), noisy).argmax(dim=1)[0] == regions
    assert (noisy.argmax(dim=1)[0] == regions).float().mean() < 0.7
    assert refined.float().mean() > 0.93 and refined.float().mean() > smoothed.float().mean()
    edge = torch.zeros(h, w, dtype=torch.bool)
    edge[:, 11:15] = True  # two columns each side of the long edge
    assert refined[edge].float().mean() == 1.0 and smoothed[edge].float().mean() < 0.9


def test_pamr_is_registered_and_checks_its_arguments():
    with DefaultScope.overwrite_default_scope('mmseg'):
        pamr = MODELS.build(dict(type='PAMR', num_iter=10, dilations=(8, 16)))
    assert isinstance(pamr, PAMR) and pamr.num_iter == 10 and pamr.dilations == (8, 16)
    with pytest.raises(ValueError, match='num_iter >= 1'):
        PAMR(num_iter=0)
    with pytest.raises(ValueError, match='positive dilations'):
        PAMR(dilations=())
