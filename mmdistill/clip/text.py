"""Class names -> CLIP text embeddings (zero-shot classifiers).

Prompt templates use ``{}`` for the class name and may use ``{article}``
('a' / 'an'). Each (class, template) prompt is encoded, L2-normalised,
averaged over the templates of a class and renormalised, as in ViLD /
CLIPSelf. All prompts go through the text tower in chunks of at most
``batch_size`` prompts (no per-class model call). Results can be cached on
disk, keyed by a model identity string given by the caller.

Example:
    >>> import open_clip
    >>> model = open_clip.create_model('ViT-B-16', pretrained='/path/to/ViT-B-16.pt')
    >>> tokenizer = open_clip.get_tokenizer('ViT-B-16')
    >>> emb = build_text_classifier(model, tokenizer, ['cat', 'dog'], templates='vild',
    ...                             cache_key=model_identity('ViT-B-16', '/path/to/ViT-B-16.pt'))
    >>> emb.shape
    torch.Size([2, 512])
"""
import hashlib
import json
import os
import os.path as osp
import tempfile
from typing import Callable, Dict, List, Optional, Sequence, Union

import torch
import torch.nn.functional as F

from ..utils import module_device
from .builder import resolve_checkpoint

CACHE_FORMAT_VERSION = 1
DEFAULT_CACHE_DIR = osp.join('~', '.cache', 'mmdistill', 'text_embeddings')

# The 63 prompt templates of ViLD (Gu et al., 2022), used by CLIPSelf.
VILD_TEMPLATES = (
    'There is {article} {} in the scene.',
    'There is the {} in the scene.',
    'a photo of {article} {} in the scene.',
    'a photo of the {} in the scene.',
    'a photo of one {} in the scene.',
    'itap of {article} {}.',
    'itap of my {}.',
    'itap of the {}.',
    'a photo of {article} {}.',
    'a photo of my {}.',
    'a photo of the {}.',
    'a photo of one {}.',
    'a photo of many {}.',
    'a good photo of {article} {}.',
    'a good photo of the {}.',
    'a bad photo of {article} {}.',
    'a bad photo of the {}.',
    'a photo of a nice {}.',
    'a photo of the nice {}.',
    'a photo of a cool {}.',
    'a photo of the cool {}.',
    'a photo of a weird {}.',
    'a photo of the weird {}.',
    'a photo of a small {}.',
    'a photo of the small {}.',
    'a photo of a large {}.',
    'a photo of the large {}.',
    'a photo of a clean {}.',
    'a photo of the clean {}.',
    'a photo of a dirty {}.',
    'a photo of the dirty {}.',
    'a bright photo of {article} {}.',
    'a bright photo of the {}.',
    'a dark photo of {article} {}.',
    'a dark photo of the {}.',
    'a photo of a hard to see {}.',
    'a photo of the hard to see {}.',
    'a low resolution photo of {article} {}.',
    'a low resolution photo of the {}.',
    'a cropped photo of {article} {}.',
    'a cropped photo of the {}.',
    'a close-up photo of {article} {}.',
    'a close-up photo of the {}.',
    'a jpeg corrupted photo of {article} {}.',
    'a jpeg corrupted photo of the {}.',
    'a blurry photo of {article} {}.',
    'a blurry photo of the {}.',
    'a pixelated photo of {article} {}.',
    'a pixelated photo of the {}.',
    'a black and white photo of the {}.',
    'a black and white photo of {article} {}.',
    'a plastic {}.',
    'the plastic {}.',
    'a toy {}.',
    'the toy {}.',
    'a plushie {}.',
    'the plushie {}.',
    'a cartoon {}.',
    'the cartoon {}.',
    'an embroidered {}.',
    'the embroidered {}.',
    'a painting of the {}.',
    'a painting of a {}.',
)

# The 80 prompt templates of CLIP's zero-shot ImageNet evaluation (Radford et al., 2021),
# used by MaskCLIP, SCLIP, ClearCLIP and NACLIP for open-vocabulary segmentation.
IMAGENET_TEMPLATES = (
    'a bad photo of a {}.',
    'a photo of many {}.',
    'a sculpture of a {}.',
    'a photo of the hard to see {}.',
    'a low resolution photo of the {}.',
    'a rendering of a {}.',
    'graffiti of a {}.',
    'a bad photo of the {}.',
    'a cropped photo of the {}.',
    'a tattoo of a {}.',
    'the embroidered {}.',
    'a photo of a hard to see {}.',
    'a bright photo of a {}.',
    'a photo of a clean {}.',
    'a photo of a dirty {}.',
    'a dark photo of the {}.',
    'a drawing of a {}.',
    'a photo of my {}.',
    'the plastic {}.',
    'a photo of the cool {}.',
    'a close-up photo of a {}.',
    'a black and white photo of the {}.',
    'a painting of the {}.',
    'a painting of a {}.',
    'a pixelated photo of the {}.',
    'a sculpture of the {}.',
    'a bright photo of the {}.',
    'a cropped photo of a {}.',
    'a plastic {}.',
    'a photo of the dirty {}.',
    'a jpeg corrupted photo of a {}.',
    'a blurry photo of the {}.',
    'a photo of the {}.',
    'a good photo of the {}.',
    'a rendering of the {}.',
    'a {} in a video game.',
    'a photo of one {}.',
    'a doodle of a {}.',
    'a close-up photo of the {}.',
    'a photo of a {}.',
    'the origami {}.',
    'the {} in a video game.',
    'a sketch of a {}.',
    'a doodle of the {}.',
    'a origami {}.',
    'a low resolution photo of a {}.',
    'the toy {}.',
    'a rendition of the {}.',
    'a photo of the clean {}.',
    'a photo of a large {}.',
    'a rendition of a {}.',
    'a photo of a nice {}.',
    'a photo of a weird {}.',
    'a blurry photo of a {}.',
    'a cartoon {}.',
    'art of a {}.',
    'a sketch of the {}.',
    'a embroidered {}.',
    'a pixelated photo of a {}.',
    'itap of the {}.',
    'a jpeg corrupted photo of the {}.',
    'a good photo of a {}.',
    'a plushie {}.',
    'a photo of the nice {}.',
    'a photo of the small {}.',
    'a photo of the weird {}.',
    'the cartoon {}.',
    'art of the {}.',
    'a drawing of the {}.',
    'a photo of the large {}.',
    'a black and white photo of a {}.',
    'the plushie {}.',
    'a dark photo of a {}.',
    'itap of a {}.',
    'graffiti of the {}.',
    'a toy {}.',
    'itap of my {}.',
    'a photo of a cool {}.',
    'a photo of a small {}.',
    'a tattoo of the {}.',
)

TEMPLATE_SETS: Dict[str, Sequence[str]] = {
    'vild': VILD_TEMPLATES,
    'imagenet80': IMAGENET_TEMPLATES,
    'photo': ('a photo of a {}.', ),
    'scene': ('A photo of a {} in the scene', ),  # CAT-Seg's prompt
}
# template sets for which the "This is " prefix is on by default
THIS_IS_DEFAULT = ('vild', )
THIS_IS_ARTICLES = ('a', 'an', 'the')

TemplatesType = Union[str, Sequence[str]]


def register_templates(name: str, templates: Sequence[str], force: bool = False) -> None:
    """Register a named template set (each template must contain ``{}``)."""
    if name in TEMPLATE_SETS and not force:
        raise KeyError(f'template set {name!r} already exists; pass force=True to replace it')
    TEMPLATE_SETS[name] = tuple(_check_templates(templates))


def _check_templates(templates: Sequence[str]) -> List[str]:
    templates = list(templates)
    if not templates:
        raise ValueError('the template list is empty')
    for template in templates:
        if not isinstance(template, str) or '{}' not in template:
            raise ValueError(f'prompt template {template!r} has no "{{}}" placeholder for the class name')
    return templates


def get_templates(templates: TemplatesType) -> List[str]:
    """A registered set name ('vild', 'imagenet80', 'photo', 'scene', ...) or a list -> list of templates."""
    if isinstance(templates, str):
        if templates not in TEMPLATE_SETS:
            raise KeyError(f'unknown template set {templates!r}; known: {sorted(TEMPLATE_SETS)}. '
                           'Pass a list of templates (with "{}") for a custom set.')
        templates = TEMPLATE_SETS[templates]
    return _check_templates(templates)


def clean_class_name(name: str, lower: bool = True, rm_dot: bool = True) -> str:
    """ViLD-style cleaning: '_' -> ' ', '/' -> ' or ', strip, optional lower-case.

    Example:
        >>> clean_class_name('Traffic_light/Stop_sign')
        'traffic light or stop sign'
    """
    name = name.replace('_', ' ').replace('/', ' or ').strip()
    if lower:
        name = name.lower()
    if rm_dot:
        name = name.rstrip('.').strip()
    return ' '.join(name.split())


def clean_coco_stuff_name(name: str) -> str:
    """COCO panoptic / stuff names: drop '-merged', '-other', '-stuff', then '-' -> ' '.

    Example:
        >>> clean_coco_stuff_name('wall-other-merged'), clean_coco_stuff_name('floor-wood')
        ('wall', 'floor wood')
    """
    suffixes = ('-merged', '-other', '-stuff')
    while name.endswith(suffixes):
        name = name[:name.rindex('-')]
    return name.replace('-', ' ').strip()


def article(name: str) -> str:
    """'an' before a vowel, else 'a'."""
    return 'an' if name and name[0].lower() in 'aeiou' else 'a'


def apply_this_is(prompt: str) -> str:
    """Prefix 'This is ' when the prompt's first word is 'a', 'an' or 'the'.

    ViLD checks ``text.startswith('a') or text.startswith('the')`` on the
    formatted prompt; we compare whole words (case-insensitive), so
    'There is ...' and 'itap of ...' keep their form, and a template starting
    with the class name ('{}.') is not prefixed because the name starts with 'a'.
    """
    words = prompt.split(maxsplit=1)
    if words and words[0].lower() in THIS_IS_ARTICLES:
        return 'This is ' + prompt
    return prompt


def build_prompts(class_names: Sequence[str],
                  templates: TemplatesType = 'vild',
                  this_is_prefix: Optional[bool] = None,
                  name_cleaner: Optional[Callable[[str], str]] = clean_class_name) -> List[List[str]]:
    """Prompts for every class and template.

    Args:
        class_names: C class names (already including a background name if wanted).
        templates: a registered set name or a list of templates with ``{}``.
        this_is_prefix: apply :func:`apply_this_is`; None = on for 'vild' only.
        name_cleaner: applied to every name first; None keeps names as given.

    Returns:
        list[list[str]]: C lists of T prompts.
    """
    if len(class_names) == 0:
        raise ValueError('the class list is empty: give at least one class name')
    if this_is_prefix is None:
        this_is_prefix = isinstance(templates, str) and templates in THIS_IS_DEFAULT
    template_list = get_templates(templates)
    prompts = []
    for raw in class_names:
        name = name_cleaner(raw) if name_cleaner is not None else raw
        if not name:
            raise ValueError(f'class name {raw!r} is empty after cleaning')
        texts = [t.format(name, article=article(name)) for t in template_list]
        if this_is_prefix:
            texts = [apply_this_is(t) for t in texts]
        prompts.append(texts)
    return prompts


def model_identity(arch: str, checkpoint: Optional[str] = None) -> str:
    """An identity string for the cache: arch + checkpoint path (a pretrained tag's local file), size and mtime."""
    if checkpoint is None:
        return arch
    path = osp.abspath(osp.expanduser(resolve_checkpoint(arch, checkpoint)))
    stat = os.stat(path)
    return f'{arch}|{path}|{stat.st_size}|{stat.st_mtime_ns}'


def state_dict_fingerprint(module: torch.nn.Module) -> str:
    """SHA-256 of a module's state dict (names, shapes and values): a cache key part.

    Costs one pass over the weights; prefer :func:`model_identity` for big towers.
    """
    digest = hashlib.sha256()
    for name, tensor in sorted(module.state_dict().items()):
        digest.update(f'{name}|{tuple(tensor.shape)}|{tensor.dtype}'.encode())
        digest.update(tensor.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def cache_file_name(cache_key: str, prompts: List[List[str]], templates: TemplatesType,
                    background: Union[bool, str], this_is_prefix: Optional[bool]) -> str:
    """File name (``text_emb_<sha256[:24]>.pt``) for a model identity and a prompt set."""
    payload = dict(
        version=CACHE_FORMAT_VERSION,
        model=cache_key,
        templates=templates if isinstance(templates, str) else list(templates),
        background=background,
        this_is=this_is_prefix,
        prompts=prompts)
    digest = hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()
    return f'text_emb_{digest[:24]}.pt'


@torch.no_grad()
def encode_prompts(model: torch.nn.Module, tokenizer: Callable[[List[str]], torch.Tensor],
                   prompts: List[List[str]], batch_size: int = 256) -> torch.Tensor:
    """Encode C x T prompts and average per class.

    Args:
        model: anything with ``encode_text(tokens) -> (N, D)``.
        tokenizer: ``list[str] -> LongTensor (N, L)``.
        prompts: C lists of T prompts (same T for all classes).
        batch_size: most prompts per ``encode_text`` call.

    Returns:
        Tensor: (C, D) float32, on the model's device, unit L2 norm per row.
    """
    num_classes, num_templates = len(prompts), len(prompts[0])
    flat = [p for texts in prompts for p in texts]
    device = module_device(model) if isinstance(model, torch.nn.Module) else torch.device('cpu')
    was_training = getattr(model, 'training', False)
    if was_training:
        model.eval()
    try:
        chunks = []
        for start in range(0, len(flat), batch_size):
            tokens = tokenizer(flat[start:start + batch_size]).to(device)
            chunks.append(model.encode_text(tokens).float())
    finally:
        if was_training:
            model.train()
    feats = F.normalize(torch.cat(chunks), dim=-1).view(num_classes, num_templates, -1)
    return F.normalize(feats.mean(dim=1), dim=-1)


def build_text_classifier(model: Union[torch.nn.Module, Callable[[], torch.nn.Module]],
                          tokenizer: Callable[[List[str]], torch.Tensor],
                          class_names: Sequence[str],
                          templates: TemplatesType = 'vild',
                          background: Union[bool, str] = False,
                          cache_dir: Optional[str] = None,
                          cache_key: Optional[str] = None,
                          device: Optional[Union[str, torch.device]] = None,
                          batch_size: int = 256,
                          this_is_prefix: Optional[bool] = None,
                          name_cleaner: Optional[Callable[[str], str]] = clean_class_name) -> torch.Tensor:
    """Text embeddings of class names, one row per class (+ background).

    Args:
        model: anything with ``encode_text(tokens) -> (N, D)`` (open_clip CLIP / CustomTextCLIP),
            or a no-argument callable returning one, called only on a cache miss.
        tokenizer: open_clip tokenizer (``list[str] -> LongTensor (N, L)``).
        class_names: C class names, cleaned with ``name_cleaner``.
        templates: 'vild' (63 templates), 'imagenet80' (CLIP's 80), 'photo', 'scene', another registered name,
            or a list of templates with ``{}`` (and optionally ``{article}``).
        background: False, True (an extra last row for 'background') or the
            background name to use; encoded with the same templates as a class.
        cache_dir: cache folder (default ``~/.cache/mmdistill/text_embeddings``);
            only used when ``cache_key`` is given.
        cache_key: identity of the model weights, e.g. :func:`model_identity`
            or :func:`state_dict_fingerprint`; None disables the cache.
        device: where the result goes (default CPU). Encoding runs on the model's device.
        batch_size: most prompts per ``encode_text`` call.
        this_is_prefix: 'This is ' before prompts starting with a / an / the;
            None = on for 'vild' only.
        name_cleaner: applied to class names; None keeps them as given.

    Returns:
        Tensor: (C, D), or (C + 1, D) with background last; float32, unit rows.
    """
    names = list(class_names)
    if len(names) == 0:
        raise ValueError('the class list is empty: give at least one class name')
    if background:
        names.append('background' if background is True else str(background))
    if this_is_prefix is None:
        this_is_prefix = isinstance(templates, str) and templates in THIS_IS_DEFAULT
    prompts = build_prompts(names, templates, this_is_prefix, name_cleaner)
    out_device = torch.device(device) if device is not None else torch.device('cpu')

    cache_path = None
    if cache_key is not None:
        folder = osp.expanduser(cache_dir or DEFAULT_CACHE_DIR)
        cache_path = osp.join(folder, cache_file_name(cache_key, prompts, templates, background, this_is_prefix))
        cached = _load_cache(cache_path, prompts)
        if cached is not None:
            return cached.to(out_device)

    # a lazy factory is built on a cache miss only: its random initialisation draws from a forked generator,
    # so that the caller's next draws (the rest of a model's weights) do not depend on the cache
    with torch.random.fork_rng(devices=[torch.cuda.current_device()] if torch.cuda.is_initialized() else []):
        if not hasattr(model, 'encode_text') and callable(model):
            model = model()
        embeddings = encode_prompts(model, tokenizer, prompts, batch_size).cpu()
    if cache_path is not None:
        _save_cache(cache_path, embeddings, cache_key, prompts)
    return embeddings.to(out_device)


def _load_cache(path: str, prompts: List[List[str]]) -> Optional[torch.Tensor]:
    if not osp.isfile(path):
        return None
    data = torch.load(path, map_location='cpu', weights_only=True)
    if data.get('prompts') != prompts or data.get('version') != CACHE_FORMAT_VERSION:
        return None
    return data['embeddings'].float()


def _save_cache(path: str, embeddings: torch.Tensor, cache_key: str, prompts: List[List[str]]) -> None:
    """Write atomically: temporary file in the same folder, then rename."""
    folder = osp.dirname(path)
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix='.tmp_', suffix='.pt', dir=folder)
    try:
        with os.fdopen(fd, 'wb') as f:
            torch.save(
                dict(version=CACHE_FORMAT_VERSION, model=cache_key, prompts=prompts, embeddings=embeddings), f)
        os.replace(tmp, path)
    except BaseException:
        if osp.exists(tmp):
            os.remove(tmp)
        raise


__all__ = [
    'VILD_TEMPLATES', 'IMAGENET_TEMPLATES', 'TEMPLATE_SETS', 'register_templates', 'get_templates', 'clean_class_name',
    'clean_coco_stuff_name', 'article', 'apply_this_is', 'build_prompts', 'model_identity', 'state_dict_fingerprint',
    'cache_file_name', 'encode_prompts', 'build_text_classifier'
]
