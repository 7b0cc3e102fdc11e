"""The web demo: open-vocabulary detection and segmentation of a user's image with a user's class names.

A catalogue of models (:class:`DemoModel`: a kind, a tower label, a config and a checkpoint) comes from
the main job's run folder (:func:`quickstart_models`) or from configs given on the command line
(:func:`config_model`). :class:`WebDemo` runs them through :class:`~mmdistill.apis.OVDetInferencer` /
:class:`~mmdistill.apis.OVSegInferencer` (loaded once per (kind, tower)), draws the overlay, scores each
class and gives the affinity map of a clicked point; :meth:`WebDemo.build_page` puts it in a Gradio page
(``tools/demo/web_demo.py``). Whatever goes wrong with the user's input or a model is a
:class:`DemoError`, shown in the page as a sentence.
"""
import glob
import html
import os
import os.path as osp
import threading
import time
from dataclasses import dataclass
from typing import Any, Optional, Sequence, Union

import mmcv
import numpy as np
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from PIL import Image, ImageDraw

from ..datasets.class_names import parse_classes as read_classes
from ..utils.run_manifest import read_manifest

QUICKSTART_COMMAND = 'bash tools/quickstart.sh'
KINDS = {  # kind -> what the page calls it
    'fvit': 'F-ViT detection',
    'training_free': 'training-free segmentation',
    'catseg': 'Cat-Seg segmentation',
    'c2s': 'C2S student segmentation',
}
MODEL_TYPES = {'FViT': 'fvit', 'ZeroShotSegmentor': 'training_free', 'CatSegSegmentor': 'catseg',
               'C2SSegmentor': 'c2s'}
READOUTS = {'value (MaskCLIP)': 'value', 'SCLIP': 'sclip', 'ClearCLIP': 'clearclip', 'NACLIP': 'naclip'}
SYNONYM_KINDS = ('training_free', 'catseg')  # take a class's synonyms themselves; others score each name
EXAMPLE_VOCABULARY = 'red circle, blue heart, yellow star, grass;lawn, sky, water, road, sand'
# the uploaded image fills its box, sharp (the world's are 96 px); the answers are scaled on the server instead
# (a click's coordinates are read from the picture's own pixels, see display_scale)
PAGE_CSS = '#image img {width: 100%; height: 100%; object-fit: contain; image-rendering: pixelated;}'
IMAGE_HEIGHT = 300  # pixels of the page's picture boxes
DISPLAY_SIZE = 384  # a picture's longer side is scaled up (nearest neighbour, whole times) to at least this


class DemoError(ValueError):
    """A problem with the user's input or a model, shown in the page as its message (no traceback)."""


@dataclass
class DemoModel:
    """One entry of the page's menus: ``kind`` (a key of :data:`KINDS`), the tower label, and how to load it."""

    kind: str
    tower: str
    config: Config
    checkpoint: Optional[str] = None  # downstream weights; training-free models have none

    @property
    def task(self) -> str:
        return 'detection' if self.kind == 'fvit' else 'segmentation'


@dataclass
class Prediction:
    """What the page shows for one image.

    ``picture`` is the RGB overlay at the image's size ``(H, W, 3)``; ``labels`` the class of each
    pixel ``(H, W)`` (segmentation); ``boxes`` ``(N, 4)`` xyxy pixels with ``box_labels`` / ``box_scores``
    ``(N,)`` above the score threshold (detection). ``scores``: per class, the share of pixels
    (segmentation) or the best box score (detection).
    """

    classes: list[str]
    palette: list[list[int]]
    picture: np.ndarray
    scores: dict[str, float]
    labels: Optional[np.ndarray] = None
    boxes: Optional[np.ndarray] = None
    box_labels: Optional[np.ndarray] = None
    box_scores: Optional[np.ndarray] = None
    seconds: float = 0.0


# ----------------------------------------------------------------------------- catalogue
def model_kind(cfg: Config) -> str:
    """The kind of ``cfg.model`` (:data:`MODEL_TYPES`); a DemoError for any other model."""
    model_type = cfg.model.get('type')
    if model_type not in MODEL_TYPES:
        raise DemoError(f'model type {model_type!r} is not one the demo runs; it runs {sorted(MODEL_TYPES)}')
    return MODEL_TYPES[model_type]


def config_model(config: str, checkpoint: Optional[str] = None, tower: Optional[str] = None) -> DemoModel:
    """A model of a config file (any scale) and its checkpoint; labelled by their file names."""
    if not osp.isfile(config):
        raise FileNotFoundError(f'config not found: {config}')
    cfg = Config.fromfile(config)
    label = tower or osp.splitext(osp.basename(config))[0] + (f' + {osp.basename(checkpoint)}' if checkpoint else '')
    return DemoModel(model_kind(cfg), label, cfg, checkpoint)


def main_job_towers(work_dir: str, towers: dict) -> list[tuple[str, str, bool]]:
    """``(label, checkpoint, own text tower)`` of every tower the main job made under ``work_dir`` (its manifest,
    ``towers.json``), in the order of ``towers``, seed 0 first; seeds other than 0 are marked. The tiny CLIP comes
    first even before the manifest has it."""
    made = read_manifest(work_dir)['towers'].values()
    order = list(towers)
    found = [(towers.get('tiny_clip', {}).get('label', 'tiny CLIP'), osp.join(work_dir, 'tiny_clip.pt'), False)]
    for entry in sorted((e for e in made if e['name'] in towers and e['config']),
                        key=lambda e: (order.index(e['name']), e['seed'])):
        seed = f' (seed {entry["seed"]})' if entry['seed'] else ''
        label = towers[entry['name']].get('label', entry['name']) + seed
        found.append((label, entry['checkpoint'], entry['text_checkpoint'] is not None))
    return found


def run_config(checkpoint: str) -> Config:
    """The config a training ran with: the copy mmengine's runner writes to its work folder (under the config's
    file name), else the checkpoint's ``meta.cfg``."""
    dumped = glob.glob(osp.join(osp.dirname(checkpoint), '*.py'))
    if len(dumped) == 1:
        return Config.fromfile(dumped[0])
    meta = torch.load(checkpoint, map_location='cpu', weights_only=False).get('meta', {})
    if not meta.get('cfg'):
        raise KeyError(f'{checkpoint} holds no config (meta.cfg) and its folder no config copy')
    return Config.fromstring(meta['cfg'], '.py')


def quickstart_models(work_dir: str = 'work_dirs/quickstart', world: str = 'data/synthetic_world',
                      main_job: Optional[str] = None) -> list[DemoModel]:
    """The models of the main job's run folder ``work_dir``.

    Training-free segmentation with each tower (the main job's training-free config), and every downstream
    model a trained section left (``<work_dir>/<section>/seed<s>_<key>/last_checkpoint``), labelled by its
    row of ``configs/quickstart/main_job.py``.

    Raises:
        FileNotFoundError: no tiny CLIP under ``work_dir``; the message names the command that makes it.
    """
    from .quickstart import MAIN_JOB_CONFIG, load_main_job
    from .runs import load_run_config
    tiny = osp.join(work_dir, 'tiny_clip.pt')
    if not osp.isfile(tiny):
        raise FileNotFoundError(f'no models of the main job under {work_dir} (no {tiny}): make them with '
                                f'`{QUICKSTART_COMMAND}`, or pass --config CONFIG --checkpoint CHECKPOINT')
    towers, sections = load_main_job(main_job or MAIN_JOB_CONFIG)
    tower_list = main_job_towers(work_dir, towers)
    models = []
    for section in sections:
        if section.train:
            models += _trained_models(section, work_dir)
            continue
        if Config.fromfile(section.config).model.get('type') != 'ZeroShotSegmentor':
            continue
        for label, checkpoint, own_text in tower_list:
            cfg = load_run_config(section.config, work_dir, world, tiny)
            cfg.model.tower.checkpoint = checkpoint
            if own_text:
                cfg.model.vocabulary.text.checkpoint = checkpoint
            models.append(DemoModel('training_free', label, cfg))
    return models


def _trained_models(section, work_dir: str) -> list[DemoModel]:
    """The downstream models of a trained section that the main job made under ``work_dir`` (its manifest), each
    named by its row (seeds other than 0 marked) and built from the config its training ran with."""
    models = []
    for entry in read_manifest(work_dir)['models'].values():
        if entry['section'] != section.name or not osp.isfile(entry['checkpoint']):
            continue
        label = entry['label'] + (f' (seed {entry["seed"]})' if entry['seed'] else '')
        cfg = run_config(entry['checkpoint'])
        models.append(DemoModel(model_kind(cfg), label, cfg, entry['checkpoint']))
    return models


WORLD_CONFIGS = {  # the main job's downstream configs on the synthetic world
    'fvit': 'configs/fvit/fvit_tinyclip-p12_fpn_1xb8-250it_ov-synthetic.py',
    'training_free': 'configs/maskclip/maskclip_tinyclip-p12_synthetic-192.py',
    'catseg': 'configs/catseg/catseg_tinyclip-p12_1xb4-400_synthetic-96.py',
    'c2s': 'configs/c2s/c2s_segformer-mit-b0_1xb16-300_synthetic-96.py',
}


def random_world_models(world: str, out_dir: str, tower: str = 'random tiny CLIP', seed: int = 0,
                        repo: str = '.') -> list[DemoModel]:
    """One model of each kind from the world configs with seeded random weights (a random tiny CLIP and random
    heads, written to ``out_dir``): the main job's models in size and speed, for tests and timings."""
    from mmdet.registry import MODELS as DET_MODELS
    from mmengine.registry import DefaultScope
    from mmseg.registry import MODELS as SEG_MODELS

    from ..clip import build_clip_model
    from .runs import ARCH, load_run_config
    os.makedirs(out_dir, exist_ok=True)
    torch.manual_seed(seed)
    clip = osp.join(out_dir, 'tiny_clip.pt')
    torch.save(build_clip_model(ARCH).state_dict(), clip)
    models = []
    for kind, config in WORLD_CONFIGS.items():
        cfg = load_run_config(osp.join(repo, config), osp.join(out_dir, kind), world, clip)
        checkpoint = None
        if kind != 'training_free':
            torch.manual_seed(seed)
            registry, scope = (DET_MODELS, 'mmdet') if kind == 'fvit' else (SEG_MODELS, 'mmseg')
            with DefaultScope.overwrite_default_scope(scope):
                state = registry.build(cfg.model).state_dict()
            checkpoint = osp.join(out_dir, f'{kind}.pth')
            torch.save(dict(state_dict=state), checkpoint)
        models.append(DemoModel(model_kind(cfg), tower, cfg, checkpoint))
    return models


# ----------------------------------------------------------------------------- inputs
def parse_classes(texts: Optional[str]) -> list[tuple[str, ...]]:
    """``'red circle, grass;lawn'`` -> ``[('red circle',), ('grass', 'lawn')]``: classes separated by commas (or
    new lines), the synonyms of a class by ``';'``."""
    entries = [e for e in (texts or '').replace('\n', ',').split(',') if e.replace(';', '').strip()]
    if not entries:
        raise DemoError('The vocabulary is empty: type class names separated by commas, the synonyms of a class '
                        'joined by ";" (e.g. "red circle, grass;lawn, sky").')
    try:
        return read_classes(entries)
    except ValueError as exc:
        raise DemoError(f'The vocabulary is not valid: {exc}; give each name once.') from exc


def read_image(image: Union[str, np.ndarray, None]) -> np.ndarray:
    """A file path (any format OpenCV reads) or an RGB array -> the BGR ``(H, W, 3)`` uint8 array the
    inferencers take."""
    if image is None:
        raise DemoError("No image: upload one, or pick one of the world's images.")
    if isinstance(image, np.ndarray):
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise DemoError(f'The image must be an (H, W, 3) uint8 RGB array, got {image.dtype} {image.shape}.')
        return np.ascontiguousarray(image[..., ::-1])
    if not osp.isfile(image):
        raise DemoError(f'No file at {image}.')
    with open(image, 'rb') as f:
        bgr = mmcv.imfrombytes(f.read(), flag='color')
    if bgr is None or bgr.size == 0:
        raise DemoError(f'{osp.basename(image)} is not an image (OpenCV cannot decode it): upload a PNG, JPEG, '
                        'BMP, TIFF or WebP file.')
    return bgr


# ----------------------------------------------------------------------------- pictures
def draw_boxes(rgb: np.ndarray, boxes: np.ndarray, labels: np.ndarray, palette: Sequence[Sequence[int]]) -> np.ndarray:
    """RGB ``(H, W, 3)`` with each box ``(N, 4)`` xyxy outlined in its label's colour."""
    picture = Image.fromarray(rgb)
    draw = ImageDraw.Draw(picture)
    width = max(1, round(min(rgb.shape[:2]) / 96))
    for box, label in zip(boxes.tolist(), labels.tolist()):
        draw.rectangle(box, outline=tuple(palette[label]), width=width)
    return np.asarray(picture)


def legend_html(classes: Sequence[str], palette: Sequence[Sequence[int]], scores: dict[str, float],
                score_name: str) -> str:
    """One line per class: its colour, its name and its score."""
    rows = []
    for name, colour in zip(classes, palette):
        swatch = (f'<span style="display:inline-block;width:14px;height:14px;margin-right:6px;vertical-align:middle;'
                  f'border:1px solid #333;background:rgb({colour[0]},{colour[1]},{colour[2]})"></span>')
        rows.append(f'<div class="legend-row">{swatch}<span class="legend-name">{html.escape(name)}</span>'
                    f' <span style="color:#666">{score_name} {scores[name]:.2f}</span></div>')
    return '<div class="legend">' + ''.join(rows) + '</div>'


def display_scale(height: int, width: int) -> int:
    """The whole factor that brings the longer side of a small picture to at least :data:`DISPLAY_SIZE`
    (1 for larger ones): the page shows overlays and affinity maps this many times larger."""
    return max(1, -(-DISPLAY_SIZE // max(height, width)))


def upscale(picture: np.ndarray, scale: int) -> np.ndarray:
    """``(H, W, C)`` -> ``(scale H, scale W, C)``, each pixel repeated."""
    return picture if scale == 1 else np.repeat(np.repeat(picture, scale, axis=0), scale, axis=1)


# ----------------------------------------------------------------------------- the demo
def _tower_of(model: torch.nn.Module) -> Optional[torch.nn.Module]:
    """The CLIP tower of a segmentor (``model.tower``) or of F-ViT (``model.backbone.tower``); C2S has none."""
    tower = getattr(model, 'tower', None)
    return tower if tower is not None else getattr(getattr(model, 'backbone', None), 'tower', None)


class WebDemo:
    """Models loaded on first use (once per (kind, tower)), their predictions drawn for a page.

    Args:
        models: the catalogue; (kind, tower) pairs must be unique.
        device: e.g. ``'cpu'`` or ``'cuda:0'`` (default: CUDA if available).
    """

    def __init__(self, models: Sequence[DemoModel], device: Optional[str] = None) -> None:
        if not models:
            raise ValueError('the demo needs at least one model')
        self.models: dict[tuple[str, str], DemoModel] = {}
        for model in models:
            key = (model.kind, model.tower)
            if key in self.models:
                raise ValueError(f'two models of kind {model.kind!r} are called {model.tower!r}')
            self.models[key] = model
        self.device = device
        self._inferencers: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()

    @property
    def kinds(self) -> list[str]:
        """The kinds of the catalogue, in :data:`KINDS` order."""
        return [k for k in KINDS if any(kind == k for kind, _ in self.models)]

    def towers(self, kind: str) -> list[str]:
        return [tower for k, tower in self.models if k == kind]

    def model(self, kind: str, tower: Optional[str]) -> DemoModel:
        if (kind, tower) not in self.models:
            raise DemoError(f'No {KINDS.get(kind, kind)} model with the tower {tower!r}; '
                            f'there are: {", ".join(self.towers(kind)) or "none"}.')
        return self.models[kind, tower]

    def inferencer(self, model: DemoModel):
        """The model's ``OVDetInferencer`` / ``OVSegInferencer``, built on first use and kept."""
        key = (model.kind, model.tower)
        if key not in self._inferencers:
            from ..det.inferencer import OVDetInferencer
            from ..seg.inferencer import OVSegInferencer
            what = f'{KINDS[model.kind]} with {model.tower}'
            if model.checkpoint and not osp.isfile(model.checkpoint):
                raise DemoError(f'The model {what} failed to load: no checkpoint at {model.checkpoint}.')
            try:
                if model.task == 'detection':
                    inferencer = OVDetInferencer(model.config, model.checkpoint, device=self.device,
                                                 show_progress=False)
                else:
                    inferencer = OVSegInferencer(model.config, model.checkpoint, device=self.device)
            except Exception as exc:  # whatever the build raises, the page says it in one sentence
                raise DemoError(f'The model {what} failed to load: {type(exc).__name__}: {exc}') from exc
            self._inferencers[key] = inferencer
        return self._inferencers[key]

    # ------------------------------------------------------------------ model state
    def _set_vocabulary(self, model: DemoModel, inferencer, classes: list[tuple[str, ...]]) -> np.ndarray:
        """Give the model the vocabulary; returns ``name_to_class`` ``(N,)``: the class of each label the
        model predicts (models without synonyms score every name, and a name's label maps to its class)."""
        if model.task == 'segmentation' and len(classes) < 2:
            raise DemoError(f'{KINDS[model.kind]} gives every pixel its best class: with one class '
                            f'({";".join(classes[0])!r}) it would take the whole image. Give at least two classes '
                            '(e.g. add "background").')
        if model.kind in SYNONYM_KINDS:
            names, name_to_class = [';'.join(c) for c in classes], np.arange(len(classes))
        else:
            names = [n for c in classes for n in c]
            name_to_class = np.array([k for k, c in enumerate(classes) for _ in c])
        if list(inferencer.model.vocabulary) != names:
            try:
                inferencer.set_vocabulary(names)
            except ValueError as exc:
                raise DemoError(f'The vocabulary does not suit {KINDS[model.kind]}: {exc}') from exc
        return name_to_class

    @staticmethod
    def _set_readout(model: DemoModel, inferencer, readout: Optional[str]) -> None:
        """The training-free model's readout of the last block (a key or value of :data:`READOUTS`)."""
        if model.kind != 'training_free':
            return
        value = READOUTS.get(readout, readout) or 'value'
        if value not in READOUTS.values():
            raise DemoError(f'Unknown readout {readout!r}; choose one of {", ".join(READOUTS)}.')
        tower = inferencer.model.tower
        blocker = tower.adapter.readout_blocker if value != 'value' else None
        if blocker:
            raise DemoError(f'The readout {readout} does not work with the tower {model.tower}: {blocker}')
        tower.dense_path = value

    # ------------------------------------------------------------------ predictions
    def predict(self, image: Union[str, np.ndarray, None], texts: Optional[str], kind: str, tower: Optional[str],
                readout: Optional[str] = 'value', score_thr: float = 0.3) -> Prediction:
        """Detect or segment the classes ``texts`` names in ``image`` (a file or an RGB array)."""
        from ..seg.inferencer import vocabulary_palette
        from ..visualization.predictions import colour_labels
        classes = parse_classes(texts)
        model = self.model(kind, tower)
        bgr = read_image(image)
        rgb = np.ascontiguousarray(bgr[..., ::-1])
        names = [';'.join(c) for c in classes]
        palette = vocabulary_palette(len(classes))
        with self._lock:
            inferencer = self.inferencer(model)
            name_to_class = self._set_vocabulary(model, inferencer, classes)
            self._set_readout(model, inferencer, readout)
            start = time.perf_counter()
            with torch.no_grad():
                result = inferencer(bgr, return_datasamples=True)
            seconds = time.perf_counter() - start
        sample = result['predictions'][0] if isinstance(result, dict) else result
        if model.task == 'segmentation':
            labels = name_to_class[sample.pred_sem_seg.data[0].cpu().numpy()]
            share = np.bincount(labels.ravel(), minlength=len(classes)) / labels.size
            scores = {name: float(s) for name, s in zip(names, share)}
            return Prediction(names, palette, colour_labels(rgb, labels, palette), scores, labels=labels,
                              seconds=seconds)
        instances = sample.pred_instances.cpu()
        labels, box_scores = name_to_class[instances.labels.numpy()], instances.scores.numpy()
        best = np.zeros(len(classes))
        np.maximum.at(best, labels, box_scores)
        keep = box_scores >= score_thr
        boxes = instances.bboxes.numpy()[keep]
        return Prediction(names, palette, draw_boxes(rgb, boxes, labels[keep], palette),
                          {name: float(s) for name, s in zip(names, best)}, boxes=boxes, box_labels=labels[keep],
                          box_scores=box_scores[keep], seconds=seconds)

    @torch.no_grad()
    def affinity(self, image: Union[str, np.ndarray, None], kind: str, tower: Optional[str], point: Sequence[float],
                 readout: Optional[str] = 'value') -> np.ndarray:
        """Cosine similarity ``(H, W)`` of the model's dense feature at ``point`` = ``(x, y)`` (image pixels)
        with every cell, upsampled bilinearly to the image's size.

        The features: the CLIP dense map (training-free, Cat-Seg, F-ViT; with the chosen readout) or the C2S
        student's features ``F``; the image goes through the model's test pipeline and data preprocessor.
        """
        model = self.model(kind, tower)
        bgr = read_image(image)
        height, width = bgr.shape[:2]
        x, y = float(point[0]), float(point[1])
        if not (0 <= x < width and 0 <= y < height):
            raise DemoError(f'The point ({x:.0f}, {y:.0f}) is outside the {width} x {height} image.')
        with self._lock:
            inferencer = self.inferencer(model)
            self._set_readout(model, inferencer, readout)
            net = inferencer.model
            batch = net.data_preprocessor(pseudo_collate([inferencer.pipeline(bgr)]), False)
            inputs, meta = batch['inputs'], batch['data_samples'][0].metainfo
            if hasattr(net, 'student_features'):  # C2S: the features its text classifier reads
                feats = net.student_features(inputs)
            else:  # a CLIP dense map: the segmentor's tower, or F-ViT's backbone tower
                stride = _tower_of(net).stride
                inputs = F.pad(inputs, (0, -inputs.shape[-1] % stride, 0, -inputs.shape[-2] % stride))
                feats = net.extract_feat(inputs) if hasattr(net, 'tower') else net.backbone(inputs)[1]
                feats = feats[0] if isinstance(feats, (tuple, list)) else feats
        feats = F.normalize(feats[0].float(), dim=0)  # (D, h, w)
        in_h, in_w = meta['img_shape'][:2]
        step_y, step_x = inputs.shape[-2] / feats.shape[-2], inputs.shape[-1] / feats.shape[-1]
        rows = min(feats.shape[-2], int(np.ceil(in_h / step_y)))  # cells over the image, not its padding
        cols = min(feats.shape[-1], int(np.ceil(in_w / step_x)))
        row = min(int(y * in_h / height / step_y), rows - 1)
        col = min(int(x * in_w / width / step_x), cols - 1)
        sim = torch.einsum('d,dhw->hw', feats[:, row, col], feats[:, :rows, :cols])
        return F.interpolate(sim[None, None], size=(height, width), mode='bilinear', align_corners=False)[0, 0].numpy()

    def affinity_picture(self, image: Union[str, np.ndarray, None], kind: str, tower: Optional[str],
                         point: Sequence[float], readout: Optional[str] = 'value', scale: int = 1) -> np.ndarray:
        """:meth:`affinity` as a heat map over the grey image (min-max scaled), ``scale`` times larger, the
        point marked."""
        from ..analysis.pictures import heat, mark
        rgb = np.ascontiguousarray(read_image(image)[..., ::-1])
        sim = self.affinity(image, kind, tower, point, readout)
        picture = heat(mmcv.imresize(sim, (scale * sim.shape[1], scale * sim.shape[0])), upscale(rgb, scale))
        return mark(picture, [(scale * (point[0] + 0.5), scale * (point[1] + 0.5))])

    # ------------------------------------------------------------------ the page
    def run(self, image: Optional[str], texts: Optional[str], kind: str, tower: Optional[str],
            readout: Optional[str], score_thr: float) -> tuple:
        """The page's Run: ``(overlay, legend HTML, scores, status, affinity, state)``; an error is a status line."""
        try:
            pred = self.predict(image, texts, kind, tower, readout, score_thr)
        except DemoError as exc:
            return None, '', None, f'**Error:** {exc}', None, None
        except Exception as exc:  # an unforeseen failure: one line in the page, the traceback on the console
            from mmengine.logging import print_log
            print_log(f'web demo: {type(exc).__name__}', logger='current', level=40, exc_info=True)
            return None, '', None, f'**Error:** {type(exc).__name__}: {exc}', None, None
        score_name = 'share' if kind != 'fvit' else 'best box'
        found = (f'{len(pred.boxes)} boxes above {score_thr:.2f}' if kind == 'fvit'
                 else f'{len(np.unique(pred.labels))} of {len(pred.classes)} classes found')
        status = (f'{KINDS[kind]} with {tower}' + (f' ({readout})' if kind == 'training_free' else '')
                  + f': {found}, {pred.seconds:.2f} s. Click the overlay for the affinity map of a point.')
        scale = display_scale(*pred.picture.shape[:2])
        state = dict(image=image, kind=kind, tower=tower, readout=readout, scale=scale)
        return (upscale(pred.picture, scale), legend_html(pred.classes, pred.palette, pred.scores, score_name),
                pred.scores, status, None, state)

    def select(self, state: Optional[dict], index: Optional[Sequence[float]]) -> tuple:
        """The page's click on the overlay at ``index`` (its pixels ``(x, y)``): ``(affinity picture, status)``."""
        if not state or index is None:
            return None, '**Error:** run a model first, then click its overlay.'
        scale = state['scale']
        point = (index[0] // scale, index[1] // scale)  # the image's pixel
        try:
            picture = self.affinity_picture(state['image'], state['kind'], state['tower'], point, state['readout'],
                                            scale)
        except DemoError as exc:
            return None, f'**Error:** {exc}'
        return picture, f'Affinity of the point ({point[0]:.0f}, {point[1]:.0f}) with every other point.'

    def build_page(self, examples: Sequence[str] = ()):
        """The Gradio page (``gradio.Blocks``): an image (upload or one of ``examples``), class names, task and
        model, tower, readout / score threshold; the overlay (clickable), its legend, the per-class scores and
        the affinity map of the clicked point."""
        os.environ.setdefault('GRADIO_ANALYTICS_ENABLED', 'False')  # nothing leaves the machine
        import gradio as gr

        kinds = self.kinds

        def menus(kind: str) -> tuple:
            towers = self.towers(kind)
            return (gr.update(choices=towers, value=towers[0] if towers else None),
                    gr.update(visible=kind == 'training_free'), gr.update(visible=kind == 'fvit'))

        def on_select(state: Optional[dict], evt: gr.SelectData) -> tuple:
            return self.select(state, evt.index)

        with gr.Blocks(title='mmdistill: open-vocabulary detection and segmentation', analytics_enabled=False) as page:
            gr.Markdown('## mmdistill: open-vocabulary detection and segmentation\n'
                        'Upload an image (or pick one of the world\'s), type the class names, choose a model and '
                        'a tower, then Run. Click the overlay for the affinity map of a point.')
            with gr.Row():
                with gr.Column():
                    image = gr.Image(type='filepath', label='Image', sources=['upload', 'clipboard'],
                                     height=IMAGE_HEIGHT, elem_id='image')
                    image.preprocess = _lenient_decoding(image.preprocess)
                    if examples:
                        gr.Examples([[path] for path in examples], inputs=[image], label="The world's val images",
                                    examples_per_page=len(examples))
                    texts = gr.Textbox(EXAMPLE_VOCABULARY, lines=2, elem_id='vocabulary',
                                       label='Class names: separated by commas, synonyms of a class joined by ";"')
                    kind = gr.Radio([(KINDS[k], k) for k in kinds], value=kinds[0], label='Task and model',
                                    elem_id='kind')
                    towers = self.towers(kinds[0])
                    tower = gr.Dropdown(towers, value=towers[0], label='Tower', elem_id='tower')
                    readout = gr.Radio(list(READOUTS), value=next(iter(READOUTS)), label='Readout of the last block',
                                       visible=kinds[0] == 'training_free', elem_id='readout')
                    score_thr = gr.Slider(0.0, 1.0, value=0.3, step=0.05, label='Boxes drawn above this score',
                                          visible=kinds[0] == 'fvit', elem_id='score-thr')
                    run = gr.Button('Run', variant='primary', elem_id='run')
                with gr.Column():
                    status = gr.Markdown(elem_id='status')
                    overlay = gr.Image(label='Overlay (click a point)', format='png', interactive=False,
                                       height=IMAGE_HEIGHT, elem_id='overlay')
                    legend = gr.HTML(elem_id='legend')
                    scores = gr.Label(label='Per-class scores', elem_id='scores')
                    affinity = gr.Image(label='Affinity map of the clicked point', format='png', interactive=False,
                                        height=IMAGE_HEIGHT, elem_id='affinity')
            state = gr.State(None)
            kind.change(menus, inputs=kind, outputs=[tower, readout, score_thr])
            inputs, outputs = [image, texts, kind, tower, readout, score_thr], [overlay, legend, scores, status,
                                                                                affinity, state]
            run.click(self.run, inputs=inputs, outputs=outputs)
            texts.submit(self.run, inputs=inputs, outputs=outputs)
            overlay.select(on_select, inputs=[state], outputs=[affinity, status])
        return page

    def serve(self, examples: Sequence[str] = (), host: str = '127.0.0.1', port: int = 7860, **launch_options):
        """:meth:`build_page`, served at ``http://host:port`` (no server-side rendering, nothing shared); the
        ``examples`` folders are readable by the page. Returns the page (``page.close()`` stops it)."""
        page = self.build_page(examples)
        allowed = sorted({osp.dirname(osp.abspath(path)) for path in examples})
        page.launch(server_name=host, server_port=port, ssr_mode=False, share=False, css=PAGE_CSS,
                    allowed_paths=allowed, **launch_options)
        return page


def _lenient_decoding(decode):
    """Gradio's decoding of an uploaded image, or the file's path when it is not an image: :meth:`WebDemo.run`
    then says so in the page instead of Gradio failing on it. (Set on the component instance: a subclass of a
    Gradio component would make Gradio write a type stub next to this module.)"""

    def preprocess(payload):
        try:
            return decode(payload)
        except (OSError, ValueError, SyntaxError):
            return None if payload is None or payload.path is None else str(payload.path)

    return preprocess


def world_examples(world: str, num: int = 8) -> list[str]:
    """The first ``num`` val images of the synthetic world at ``world`` (none if it is missing)."""
    return sorted(glob.glob(osp.join(world, 'val2017', '*.png')))[:num]
