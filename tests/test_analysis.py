"""Analysis library: coupling ratio (Eq. 15), k-means, Hungarian-matched mIoU, t-SNE, PCA colours."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from mmdistill.analysis import (
    coupling_ratio,
    dataset_coupling_ratio,
    hungarian_miou,
    kmeans,
    pca_rgb,
    segmentation_probe,
    tsne,
)


class PatchTower(nn.Module):
    """Hand-built tower: a patch embedding, then ``mix`` times the image's mean token added to every token.

    With ``mix=0`` a token sees only its own patch (and no position), so a side-by-side pair changes nothing.
    """

    stride = 8

    def __init__(self, mix: float) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.embed = nn.Conv2d(3, 16, 8, 8)
        self.mix = mix

    def dense_features(self, images: torch.Tensor) -> torch.Tensor:
        x = self.embed(images)
        return F.normalize(x + self.mix * x.mean((2, 3), keepdim=True), dim=1)


def random_images(n: int, seed: int = 1) -> torch.Tensor:
    return torch.randn(n, 3, 32, 32, generator=torch.Generator().manual_seed(seed))


def test_coupling_ratio_is_one_without_context_and_above_one_with_it():
    a, b = random_images(6).chunk(2)
    isolated = coupling_ratio(PatchTower(mix=0.0), a, b)
    torch.testing.assert_close(isolated.ratio, torch.ones(3), atol=1e-5, rtol=0)
    torch.testing.assert_close(isolated.joint, isolated.alone, atol=1e-5, rtol=0)
    assert isolated.ratio_of_means == pytest.approx(1.0, abs=1e-5)
    mixing = coupling_ratio(PatchTower(mix=2.0), a, b)
    assert (mixing.ratio > 1.05).all(), mixing.ratio
    assert mixing.ratio_of_means > 1.05


def test_dataset_coupling_ratio_pairs_and_errors():
    images = random_images(10)
    out = dataset_coupling_ratio(PatchTower(mix=0.0), images, num_pairs=5, batch_size=2)
    assert out.ratio.shape == (5,)
    torch.testing.assert_close(out.ratio, torch.ones(5), atol=1e-5, rtol=0)
    with pytest.raises(ValueError, match='6 pairs need 12 images'):
        dataset_coupling_ratio(PatchTower(mix=0.0), images, num_pairs=6)
    with pytest.raises(ValueError, match='not a multiple of the stride'):
        coupling_ratio(PatchTower(mix=0.0), images[:2, ..., :30], images[2:4, ..., :30])


def test_hungarian_miou_equals_hand_computation():
    confusion = np.array([[0, 5, 1],   # cluster 0 -> class 1
                          [4, 0, 0],   # cluster 1 -> class 0
                          [1, 0, 6]])  # cluster 2 -> class 2
    r = hungarian_miou(confusion)
    # IoU_0 = 4 / (4 + 5 - 4), IoU_1 = 5 / (6 + 5 - 5), IoU_2 = 6 / (7 + 7 - 6)
    np.testing.assert_allclose(r.iou, [4 / 5, 5 / 6, 6 / 8])
    assert r.miou == pytest.approx((4 / 5 + 5 / 6 + 6 / 8) / 3)
    assert r.accuracy == pytest.approx(15 / 17)
    assert r.cluster_of_class.tolist() == [1, 0, 2]


def test_hungarian_not_greedy_extra_clusters_and_absent_classes():
    # greedy would take the 5 and leave 0; the assignment takes 4 + 4
    r = hungarian_miou(np.array([[5, 4], [4, 0]]))
    assert r.cluster_of_class.tolist() == [1, 0]
    assert r.miou == pytest.approx(4 / 9)  # both: 4 / (9 + 4 - 4)
    # three clusters, two classes: the third cluster's pixels count against no class
    r = hungarian_miou(np.array([[6, 0], [0, 3], [2, 1]]))
    np.testing.assert_allclose(r.iou, [6 / 8, 3 / 4])
    # a class with no pixels and no cluster matched to pixels: NaN, left out of the mean
    r = hungarian_miou(np.array([[3, 0, 0], [0, 0, 0], [0, 2, 0]]))
    assert np.isnan(r.iou[2]) and (r.iou[:2] == 1).all()
    assert r.miou == pytest.approx(1.0)


def test_probe_on_crafted_features_is_perfect_and_permutation_free():
    u, v = F.normalize(torch.randn(2, 8), dim=1)
    dense = torch.empty(2, 8, 4, 4)
    dense[:, :, :, :2] = u[None, :, None, None]
    dense[:, :, :, 2:] = v[None, :, None, None]
    labels = torch.zeros(2, 8, 8, dtype=torch.long)
    labels[..., :4] = 1  # class 1 on the left, 0 on the right: cluster ids need not match
    labels[1, 0, 0] = 255  # ignored pixel
    r = segmentation_probe(dense, labels, num_classes=2)
    assert r.miou == pytest.approx(1.0) and r.accuracy == pytest.approx(1.0)
    assert r.confusion.sum() == 2 * 64 - 1


def test_kmeans_recovers_separated_clusters_in_a_batch():
    gen = torch.Generator().manual_seed(0)
    centres = torch.tensor([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    truth = torch.arange(3).repeat_interleave(20)
    x = torch.stack([centres[truth] + 0.3 * torch.randn(60, 2, generator=gen) for _ in range(2)])
    labels, centroids = kmeans(x, 3, seed=1)
    assert labels.shape == (2, 60) and centroids.shape == (2, 3, 2)
    for b in range(2):  # one cluster per true group
        assert all(len(labels[b][truth == g].unique()) == 1 for g in range(3))
        assert len(labels[b].unique()) == 3


def test_tsne_keeps_groups_apart():
    gen = torch.Generator().manual_seed(0)
    truth = torch.arange(3).repeat_interleave(30)
    x = 5 * F.one_hot(truth, 16).float() + 0.2 * torch.randn(90, 16, generator=gen)
    y = tsne(x, perplexity=10, iters=400)
    assert y.shape == (90, 2) and torch.isfinite(y).all()
    d = torch.cdist(y, y).fill_diagonal_(float('inf'))
    assert (truth[d.argmin(1)] == truth).float().mean() > 0.95  # nearest neighbour in 2-D is of the same group


def test_pca_rgb_range_and_first_component():
    t = torch.linspace(-1, 1, 50)[:, None]
    tokens = torch.cat([10 * t, 0.1 * torch.randn(50, 5)], dim=1)
    rgb = pca_rgb(tokens)
    assert rgb.shape == (50, 3) and rgb.min() >= 0 and rgb.max() <= 1
    corr = torch.corrcoef(torch.stack([rgb[:, 0], t[:, 0]]))[0, 1].abs()
    assert corr > 0.99  # red follows the direction of largest variance
