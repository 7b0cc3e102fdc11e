"""Small models of every kind the web demo runs, built from the world configs on a small world with a random
tiny CLIP (a few seconds): shared by the demo's function test and its browser test."""
import os.path as osp
from pathlib import Path

import torch
from mmdet.registry import MODELS as DET_MODELS
from mmengine.registry import DefaultScope
from mmseg.registry import MODELS as SEG_MODELS

from mmdistill.apis.quickstart import CONFIG_TINY_CLIP, load_run_config
from mmdistill.apis.web_demo import DemoModel, model_kind
from mmdistill.clip import build_clip_model
from mmdistill.datasets.synthetic import generate_world

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
ARCH = 'mmdistill-world-ViT-P12'
CONFIGS = {
    'training_free': 'configs/maskclip/maskclip_tinyclip-p12_synthetic-192.py',
    'fvit': 'configs/fvit/fvit_tinyclip-p12_fpn_1xb8-400it_ov-synthetic.py',
    'catseg': 'configs/catseg/catseg_tinyclip-p12_1xb4-400_synthetic-96.py',
    'c2s': 'configs/c2s/c2s_segformer-mit-b0_1xb16-1k_synthetic-96.py',
}
TOWER = 'random tiny CLIP'


def small_world(root: Path) -> str:
    """A world of 8 train and 4 val images (96 px) with its splits."""
    world = str(root / 'world')
    generate_world(world, seed=7, num_train=8, num_val=4, workers=1, progress=False)
    return world


def random_clip(root: Path, seed: int = 0) -> str:
    """An open_clip checkpoint of the world's tiny CLIP with seeded random weights."""
    torch.manual_seed(seed)
    path = str(root / f'tiny_clip_seed{seed}.pt')
    torch.save(build_clip_model(ARCH).state_dict(), path)
    return path


def small_models(root: Path, world: str, clip: str) -> list[DemoModel]:
    """One model of each kind on the random tiny CLIP: the training-free config as it is, the others built
    from their world configs with seeded random heads and saved as checkpoints."""
    models = []
    for kind, config in CONFIGS.items():
        cfg = load_run_config(osp.join(REPO, config), str(root / 'work' / kind), world, {CONFIG_TINY_CLIP: clip})
        assert model_kind(cfg) == kind
        checkpoint = None
        if kind != 'training_free':
            torch.manual_seed(0)
            registry, scope = (DET_MODELS, 'mmdet') if kind == 'fvit' else (SEG_MODELS, 'mmseg')
            with DefaultScope.overwrite_default_scope(scope):
                model = registry.build(cfg.model)
            checkpoint = str(root / f'{kind}.pth')
            torch.save(dict(state_dict=model.state_dict()), checkpoint)
        models.append(DemoModel(kind, TOWER, cfg, checkpoint))
    return models
