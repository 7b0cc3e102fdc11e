"""View samplers: how a batch of images becomes the named views the student and the teachers encode.

A sampler returns ``dict[name, View]``. A :class:`View` is ``N`` view images plus the geometry
that ties them to the batch: which source image each one shows (``source``, ``source_boxes`` in
source pixels) and, for views with regions, the regions in the view's own pixels (``rois``) with
their source image and box. Views of a fixed size are rendered once; views of size ``None`` are
rendered at the native size of each model that encodes them (so two teachers of different native
sizes each get crops of their own size, cut once per size).

=====================  ==========================================  =========================================
sampler                views                                       used by
=====================  ==========================================  =========================================
``GridPatches``,       ``image`` (student image, regions = boxes),  CLIPSelf, SCD, RegionText, the Refiner
``ProposalBoxes``,     ``crops`` (each crop box letterboxed),
``RandomCrops``        ``stretched`` (each crop box stretched)
``Mosaic``             ``mosaic`` (k x k tiles, regions = tiles),   ATAS
                       ``tiles`` (each tile alone), ``full``
``MultiCrop``          ``global``, ``local``                        SILC
=====================  ==========================================  =========================================

Boxes are sampled vectorised per image (the number of images is the only loop); rendering is
one ``roi_align`` call per view and size.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Optional, Sequence

import torch
import torch.nn.functional as F
from torchvision.ops import clip_boxes_to_image, roi_align

from ..clip.pooling import crop_and_resize, scale_boxes
from ..registry import MODELS

Size = tuple[int, int]
RANK_SHIFT = 24  # ranks < 256 and steps < 2**24 share the 32 bits torch's CPU generator is seeded with
SEED_MIX = 0x9E3779B1  # spreads the seeds over the 32 bits, so two seeds do not walk the same sequence


def view_generator(seed: int, rank: int, step: int) -> torch.Generator:
    """The view sampler's generator of one training step on one rank.

    Derived from ``(seed, rank, step)`` alone, so ranks draw different views and a run resumed at
    step ``t`` (the step counter travels with checkpoints) draws what it would have drawn:
    ``(seed * SEED_MIX + (rank << 24) + step) mod 2**32`` (torch's CPU generator keeps 32 bits of a
    seed). For one seed every (rank, step) has its own generator; seed 0, rank 0, step 0 is seed 0.
    """
    return torch.Generator().manual_seed((seed * SEED_MIX + (rank << RANK_SHIFT) + step) % 2 ** 32)


@dataclass
class View:
    """One named view of a batch.

    Attributes:
        render: ``size -> (N, 3, h, w)`` view images (normalised; 0 is the mean colour).
        size: ``(h, w)`` of the view images, or ``None``: each model's native size.
        source: ``(N,)`` source image of each view image (``None`` for composites such as the mosaic).
        source_boxes: ``(N, 4)`` what each view image shows, source pixels.
        rois: ``(K, 5)`` regions (view image index, ``x1, y1, x2, y2`` in view pixels) or ``None``.
        region_source: ``(K,)`` source image of each region.
        region_source_boxes: ``(K, 4)`` what each region shows, source pixels.
    """

    render: Callable[[Size], torch.Tensor]
    size: Optional[Size]
    source: Optional[torch.Tensor] = None
    source_boxes: Optional[torch.Tensor] = None
    rois: Optional[torch.Tensor] = None
    region_source: Optional[torch.Tensor] = None
    region_source_boxes: Optional[torch.Tensor] = None
    _cache: dict = field(default_factory=dict, repr=False)

    def images(self, native: Size) -> torch.Tensor:
        """The view images at the view's size, or at ``native`` for views without one (cached per size)."""
        size = tuple(self.size or native)
        if size not in self._cache:
            self._cache[size] = self.render(size)
        return self._cache[size]

    @property
    def num_regions(self) -> int:
        return 0 if self.rois is None else len(self.rois)


@dataclass
class Views:
    """Sampled regions of a batch, original image pixels, ``(N_i, 4)`` per image."""

    boxes: list[torch.Tensor]
    crop_boxes: list[torch.Tensor]

    @property
    def counts(self) -> list[int]:
        return [len(b) for b in self.boxes]


def resize_longest_side(images: torch.Tensor, sizes: Sequence[Size], target: int
                        ) -> tuple[torch.Tensor, torch.Tensor]:
    """Resize each image's valid ``(h, w)`` region so its longest side is ``target``; pad bottom-right.

    Args:
        images: ``(B, 3, H, W)`` normalised (padding is 0 = the mean colour).
    Returns:
        ``(B, 3, target, target)`` images and ``(B,)`` scale factors.
    """
    scales = torch.tensor([target / max(h, w) for h, w in sizes], device=images.device)
    if len(set(sizes)) == 1:  # a uniform batch: one call
        h, w = sizes[0]
        out = F.interpolate(images[:, :, :h, :w], size=(round(h * scales[0].item()), round(w * scales[0].item())),
                            mode='bilinear', align_corners=False, antialias=True)
        return F.pad(out, (0, target - out.shape[-1], 0, target - out.shape[-2])), scales
    out = images.new_zeros(len(images), images.shape[1], target, target)
    for i, (h, w) in enumerate(sizes):
        new = (round(h * scales[i].item()), round(w * scales[i].item()))
        out[i, :, :new[0], :new[1]] = F.interpolate(images[i:i + 1, :, :h, :w], size=new, mode='bilinear',
                                                     align_corners=False, antialias=True)[0]
    return out, scales


def whole_image_boxes(sizes: Sequence[Size]) -> torch.Tensor:
    """``(B, 4)`` boxes covering each image's valid ``(h, w)`` region."""
    return torch.tensor([[0.0, 0.0, float(w), float(h)] for h, w in sizes])


def rois_of(source: torch.Tensor, boxes: torch.Tensor) -> torch.Tensor:
    """``(N,)`` image indices and ``(N, 4)`` boxes -> ``(N, 5)`` rois."""
    return torch.cat([source[:, None].to(boxes), boxes], dim=1)


def crop_view(images: torch.Tensor, source: torch.Tensor, boxes: torch.Tensor, size: Optional[Size],
              rows: Optional[torch.Tensor] = None) -> View:
    """Each ``boxes[n]`` of image ``source[n]`` stretched to the view size (one ``roi_align`` per size),
    cut from row ``rows[n]`` of ``images`` (default: ``source[n]``; another draw of the same image)."""
    rois = rois_of(source if rows is None else rows, boxes).to(images.device)
    return View(lambda s: roi_align(images, rois, output_size=s, spatial_scale=1.0, sampling_ratio=-1, aligned=True),
                size, source, boxes)


class ViewSampler:
    """Base of the samplers: ``views(...)`` returns named views; ``view_names`` / ``region_views`` say which."""

    view_names: tuple[str, ...] = ()
    region_views: tuple[str, ...] = ()  # views with regions (``regions`` / ``region_tokens`` readouts)
    source_views: tuple[str, ...] = ()  # views whose images each show one source image
    takes_draws = False  # whether ``images`` may be ``(B, V, 3, H, W)`` photometric draws (``MultiCrop``)

    def views(self, images: torch.Tensor, sizes: Sequence[Size], generator: torch.Generator,
              proposals: Optional[Sequence[torch.Tensor]], student_size: int) -> dict[str, View]:
        raise NotImplementedError


class BoxSampler(ViewSampler):
    """Regions of each image: the student pools them from ``image``; teachers encode them alone.

    Views: ``image`` (each image resized so its longest side is ``student_size``, padded
    bottom-right; regions = the sampled boxes), ``crops`` (each crop box letterboxed: CLIPSelf's
    teacher crops) and ``stretched`` (each crop box stretched, so token ``j`` of a crop's grid
    covers RoIAlign cell ``j`` of the box).
    """

    view_names = ('image', 'crops', 'stretched')
    region_views = ('image',)
    source_views = ('image', 'crops', 'stretched')

    def __call__(self, image_sizes: Sequence[Size], generator: torch.Generator,
                 proposals: Optional[Sequence[torch.Tensor]] = None) -> Views:
        raise NotImplementedError

    def views(self, images: torch.Tensor, sizes: Sequence[Size], generator: torch.Generator,
              proposals: Optional[Sequence[torch.Tensor]], student_size: int) -> dict[str, View]:
        sampled = self(sizes, generator, proposals)
        device = images.device
        counts = torch.tensor(sampled.counts)
        region_source = torch.repeat_interleave(torch.arange(len(sizes)), counts)
        boxes = torch.cat(sampled.boxes).reshape(-1, 4).float()
        crop_boxes = [b.to(device) for b in sampled.crop_boxes]
        crop_cat = torch.cat(sampled.crop_boxes).reshape(-1, 4).float()
        image = View(lambda s: resize_longest_side(images, sizes, s[0])[0], (student_size, student_size),
                     torch.arange(len(sizes)),
                     whole_image_boxes(sizes), region_source=region_source, region_source_boxes=boxes)
        scales = torch.tensor([student_size / max(h, w) for h, w in sizes])
        image.rois = rois_of(region_source, clip_boxes_to_image(boxes * scales[region_source, None],
                                                                (student_size, student_size)))
        return dict(
            image=image,
            crops=View(lambda s: crop_and_resize(images, crop_boxes, s, square=True), None, region_source, crop_cat),
            stretched=View(lambda s: crop_and_resize(images, crop_boxes, s, square=False), None, region_source,
                           crop_cat))


@MODELS.register_module()
class GridPatches(BoxSampler):
    """CLIPSelf's "patches" mode: a random M x N grid per image, up to ``max_cells`` random cells.

    M is drawn from ``1..max_split`` and N from ``[ceil(M / 2), min(2 M, max_split)]``.
    """

    def __init__(self, max_split: int = 6, max_cells: int = 20) -> None:
        if max_split < 1 or max_cells < 1:
            raise ValueError(f'max_split and max_cells must be >= 1, got {max_split}, {max_cells}')
        self.max_split = max_split
        self.max_cells = max_cells

    def sample_image(self, height: int, width: int, generator: torch.Generator) -> torch.Tensor:
        m = int(torch.randint(1, self.max_split + 1, (1,), generator=generator))
        lo, hi = math.ceil(m / 2), min(2 * m, self.max_split)
        n = int(torch.randint(lo, hi + 1, (1,), generator=generator))
        rows, cols = torch.meshgrid(torch.arange(m), torch.arange(n), indexing='ij')
        cell_h, cell_w = height / m, width / n
        boxes = torch.stack([cols * cell_w, rows * cell_h, (cols + 1) * cell_w, (rows + 1) * cell_h], -1)
        boxes = boxes.reshape(-1, 4).float()
        keep = torch.randperm(len(boxes), generator=generator)[:self.max_cells]
        return boxes[keep]

    def __call__(self, image_sizes: Sequence[Size], generator: torch.Generator,
                 proposals: Optional[Sequence[torch.Tensor]] = None) -> Views:
        boxes = [self.sample_image(h, w, generator) for h, w in image_sizes]
        return Views(boxes, boxes)


@MODELS.register_module()
class ProposalBoxes(BoxSampler):
    """CLIPSelf's "proposals" mode: region proposals of each image (e.g. from an RPN JSON).

    Keeps proposals with area in ``[min_area, max_area]``, shuffles them, takes
    at most ``max_num``; the teacher crop is the box expanded ``crop_expand`` times.
    """

    def __init__(self, max_num: int = 20, min_area: float = 8 ** 2, max_area: float = 1024 ** 2,
                 crop_expand: float = 1.5) -> None:
        self.max_num = max_num
        self.min_area = min_area
        self.max_area = max_area
        self.crop_expand = crop_expand

    def __call__(self, image_sizes: Sequence[Size], generator: torch.Generator,
                 proposals: Optional[Sequence[torch.Tensor]] = None) -> Views:
        if proposals is None:
            raise ValueError('ProposalBoxes needs proposals: give the dataset a proposal_file')
        boxes, crops = [], []
        for (h, w), props in zip(image_sizes, proposals):
            props = torch.as_tensor(props, dtype=torch.float32).reshape(-1, props.shape[-1])[:, :4]
            props = clip_boxes_to_image(props, (h, w))
            area = (props[:, 2] - props[:, 0]) * (props[:, 3] - props[:, 1])
            props = props[(area >= self.min_area) & (area <= self.max_area)]
            props = props[torch.randperm(len(props), generator=generator)[:self.max_num]]
            boxes.append(props)
            crops.append(clip_boxes_to_image(scale_boxes(props, self.crop_expand), (h, w)))
        return Views(boxes, crops)


@MODELS.register_module()
class RandomCrops(BoxSampler):
    """``num`` random crops per image whose sides are ``scale`` (uniform in the range) of the image's."""

    def __init__(self, num: int = 4, scale: tuple[float, float] = (0.3, 0.7)) -> None:
        if not 0 < scale[0] <= scale[1] <= 1:
            raise ValueError(f'scale must satisfy 0 < low <= high <= 1, got {scale}')
        self.num = num
        self.scale = scale

    def __call__(self, image_sizes: Sequence[Size], generator: torch.Generator,
                 proposals: Optional[Sequence[torch.Tensor]] = None) -> Views:
        boxes = []
        lo, hi = self.scale
        for h, w in image_sizes:
            s = lo + (hi - lo) * torch.rand(self.num, 1, generator=generator)
            size = s * torch.tensor([[w, h]], dtype=torch.float32)
            start = torch.rand(self.num, 2, generator=generator) * (torch.tensor([[w, h]]) - size)
            boxes.append(torch.cat([start, start + size], dim=1))
        return Views(boxes, boxes)


def random_squares(sizes: torch.Tensor, scale: tuple[float, float], generator: torch.Generator) -> torch.Tensor:
    """One random square box per row of ``sizes`` ``(N, 2)`` ``(h, w)``: side ``s * min(h, w)``,
    ``s`` uniform in ``scale``, uniform position inside the image. Returns ``(N, 4)``."""
    lo, hi = scale
    side = (lo + (hi - lo) * torch.rand(len(sizes), generator=generator)) * sizes.min(1).values
    start = torch.rand(len(sizes), 2, generator=generator) * (sizes.flip(1) - side[:, None])
    return torch.cat([start, start + side[:, None]], dim=1)


@MODELS.register_module()
class Mosaic(ViewSampler):
    """ATAS's mosaic: ``k x k`` tiles, each a square crop of a different image of the batch.

    Mosaic ``m`` (``m = 0..B-1``) puts in tile ``t`` (row-major) a square crop of image
    ``(m + t) mod B``: with ``B >= k * k`` the tiles of a mosaic come from different images and
    every image appears ``k * k`` times per step, in different tiles; with fewer images,
    images repeat (with different crops). Each crop's side is ``scale`` (uniform) times the
    image's shorter side; it is stretched (being square: resized) to ``tile_size``.

    Views:
        ``mosaic``: ``(B, 3, k * tile_size, k * tile_size)``; regions = the tiles.
        ``tiles``: each tile's crop alone (``(B * k * k, 3, s, s)`` at each model's native size).
        ``full``: each image letterboxed alone at each model's native size (global-to-global).
    """

    view_names = ('mosaic', 'tiles', 'full')
    region_views = ('mosaic',)
    source_views = ('tiles', 'full')

    def __init__(self, k: int = 2, tile_size: int = 96, scale: tuple[float, float] = (0.5, 1.0)) -> None:
        if k < 1 or tile_size < 1 or not 0 < scale[0] <= scale[1] <= 1:
            raise ValueError(f'need k >= 1, tile_size >= 1, 0 < scale[0] <= scale[1] <= 1; '
                             f'got {k}, {tile_size}, {scale}')
        self.k = k
        self.tile_size = tile_size
        self.scale = scale

    def views(self, images: torch.Tensor, sizes: Sequence[Size], generator: torch.Generator,
              proposals: Optional[Sequence[torch.Tensor]], student_size: int) -> dict[str, View]:
        b, k, t = len(sizes), self.k, self.tile_size
        tiles = k * k
        mosaic_of = torch.arange(b).repeat_interleave(tiles)  # (B * k * k,)
        source = (mosaic_of + torch.arange(tiles).repeat(b)) % b
        boxes = random_squares(torch.tensor(sizes, dtype=torch.float32)[source], self.scale, generator)
        tile_view = crop_view(images, source, boxes, None)
        row, col = (torch.arange(tiles) // k).repeat(b), (torch.arange(tiles) % k).repeat(b)
        in_mosaic = torch.stack([col * t, row * t, (col + 1) * t, (row + 1) * t], 1).float()

        def render(size: Size) -> torch.Tensor:  # the tiles at tile_size, laid out row-major
            cut = tile_view.images((t, t)).reshape(b, k, k, images.shape[1], t, t)
            return cut.permute(0, 3, 1, 4, 2, 5).reshape(b, images.shape[1], k * t, k * t)

        full_boxes = whole_image_boxes(sizes).to(images.device)
        return dict(
            mosaic=View(render, (k * t, k * t), rois=rois_of(mosaic_of, in_mosaic), region_source=source,
                        region_source_boxes=boxes),
            tiles=tile_view,
            full=View(lambda s: crop_and_resize(images, list(full_boxes[:, None]), s, square=True), None,
                      torch.arange(b), full_boxes.cpu()))


def random_resized_boxes(sizes: torch.Tensor, scale: tuple[float, float], ratio: tuple[float, float],
                         generator: torch.Generator) -> torch.Tensor:
    """``RandomResizedCrop`` boxes, vectorised: area ``s * h * w`` (``s`` uniform in ``scale``), aspect
    ``w / h`` log-uniform in ``ratio``; sides clipped to the image, uniform position.

    Args:
        sizes: ``(N, 2)`` image ``(h, w)``.
    Returns:
        ``(N, 4)`` boxes, source pixels.
    """
    n = len(sizes)
    h, w = sizes[:, 0], sizes[:, 1]
    area = (scale[0] + (scale[1] - scale[0]) * torch.rand(n, generator=generator)) * h * w
    log_lo, log_hi = math.log(ratio[0]), math.log(ratio[1])
    aspect = torch.exp(log_lo + (log_hi - log_lo) * torch.rand(n, generator=generator))
    cw, ch = torch.minimum((area * aspect).sqrt(), w), torch.minimum((area / aspect).sqrt(), h)
    x = torch.rand(n, generator=generator) * (w - cw)
    y = torch.rand(n, generator=generator) * (h - ch)
    return torch.stack([x, y, x + cw, y + ch], 1)


@MODELS.register_module()
class MultiCrop(ViewSampler):
    """DINO / SILC multi-crop: ``num_global`` large and ``num_local`` small random resized crops per image.

    View rows are crop-major: row ``c * B + b`` is crop ``c`` of image ``b``. Each crop is a
    ``RandomResizedCrop`` box (area fraction in ``global_scale`` / ``local_scale``, aspect in
    ``ratio``), flipped horizontally with probability ``flip``, stretched to ``global_size`` /
    ``local_size`` (``None``: each model's native size).

    Images may come as ``(B, V, 3, H, W)``, ``V = num_global + num_local`` photometric draws of each
    (``PhotometricViews`` in the data pipeline, ``MultiViewDataPreprocessor``): crop ``c`` (globals
    first) is cut from draw ``c``, with the same boxes as from ``(B, 3, H, W)`` images.

    Views: ``global`` ``(num_global * B, 3, ...)``, ``local`` ``(num_local * B, 3, ...)``.
    """

    takes_draws = True

    view_names = ('global', 'local')
    source_views = ('global', 'local')

    def __init__(self, num_global: int = 2, num_local: int = 8, global_scale: tuple[float, float] = (0.4, 1.0),
                 local_scale: tuple[float, float] = (0.05, 0.4), ratio: tuple[float, float] = (3 / 4, 4 / 3),
                 global_size: Optional[int] = None, local_size: Optional[int] = 96, flip: float = 0.5) -> None:
        for scale in (global_scale, local_scale):
            if not 0 < scale[0] <= scale[1] <= 1:
                raise ValueError(f'scales must satisfy 0 < low <= high <= 1, got {scale}')
        if num_global < 1 or num_local < 0:
            raise ValueError(f'need num_global >= 1 and num_local >= 0, got {num_global}, {num_local}')
        self.crops = {'global': (num_global, global_scale, global_size), 'local': (num_local, local_scale, local_size)}
        self.ratio = ratio
        self.flip = flip

    def views(self, images: torch.Tensor, sizes: Sequence[Size], generator: torch.Generator,
              proposals: Optional[Sequence[torch.Tensor]], student_size: int) -> dict[str, View]:
        draws = images.shape[1] if images.dim() == 5 else None
        num_crops = sum(num for num, _, _ in self.crops.values())
        if draws is not None and draws != num_crops:
            raise ValueError(f'{draws} photometric draws per image for {num_crops} crops: set the pipeline\'s '
                             f'PhotometricViews(num_views={num_crops})')
        out, first = {}, 0
        for name, (num, scale, size) in self.crops.items():
            source = torch.arange(len(sizes)).repeat(num)
            boxes = random_resized_boxes(torch.tensor(sizes, dtype=torch.float32)[source], scale, self.ratio,
                                         generator)
            flipped = torch.rand(len(source), generator=generator) < self.flip
            size = None if size is None else (size, size)
            if draws is None:
                view = crop_view(images, source, boxes, size)
            else:  # crop c of image b from draw c: row b * V + c of the (B * V, 3, H, W) draws
                crop = first + torch.arange(num).repeat_interleave(len(sizes))
                view = crop_view(images.flatten(0, 1), source, boxes, size, rows=source * draws + crop)
            first += num
            view.render = flip_rows(view.render, flipped.to(images.device))
            out[name] = view
        return out


def flip_rows(render: Callable[[Size], torch.Tensor], flipped: torch.Tensor) -> Callable[[Size], torch.Tensor]:
    """``render`` with the rows where ``flipped`` mirrored horizontally."""
    def wrapped(size: Size) -> torch.Tensor:
        x = render(size)
        return torch.where(flipped[:, None, None, None], x.flip(-1), x)
    return wrapped


@MODELS.register_module()
class ViewSet(ViewSampler):
    """Several samplers at once (e.g. ATAS's mosaic + grid boxes for SCD); view names must not collide."""

    def __init__(self, samplers: Sequence[dict]) -> None:
        self.samplers = [s if isinstance(s, ViewSampler) else MODELS.build(s) for s in samplers]
        names = [n for s in self.samplers for n in s.view_names]
        if len(set(names)) != len(names):
            raise ValueError(f'view names collide: {names}')
        self.view_names = tuple(names)
        self.region_views = tuple(n for s in self.samplers for n in s.region_views)
        self.source_views = tuple(n for s in self.samplers for n in s.source_views)

    def views(self, images: torch.Tensor, sizes: Sequence[Size], generator: torch.Generator,
              proposals: Optional[Sequence[torch.Tensor]], student_size: int) -> dict[str, View]:
        return {name: view for s in self.samplers
                for name, view in s.views(images, sizes, generator, proposals, student_size).items()}
