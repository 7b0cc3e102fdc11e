"""A tiny model, dataset, metric and hook for testing tools/train.py and tools/test.py.

Imported through ``custom_imports`` of ``tests/data/toy_train_cfg.py`` (with
``tests/data`` on ``PYTHONPATH``); registered in mmdistill's registries.
"""
import os.path as osp
from typing import Dict, List, Optional, Sequence

import torch
import torch.nn.functional as F
from mmengine.evaluator import BaseMetric
from mmengine.hooks import Hook
from mmengine.model import BaseModel
from torch import nn
from torch.utils.data import Dataset

from mmdistill.registry import DATASETS, HOOKS, METRICS, MODELS


@MODELS.register_module(force=True)
class ToyRegressor(BaseModel):
    """y = w x + b on (B, in_dim) inputs with MSE loss."""

    def __init__(self, in_dim: int = 4, data_preprocessor: Optional[dict] = None, init_cfg: Optional[dict] = None):
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.linear = nn.Linear(in_dim, 1)

    def forward(self, inputs: torch.Tensor, data_samples: Optional[torch.Tensor] = None, mode: str = 'tensor'):
        pred = self.linear(inputs).squeeze(-1)  # (B, )
        if mode == 'loss':
            return dict(loss=F.mse_loss(pred, data_samples))
        if mode == 'predict':
            return [dict(pred=p, target=t) for p, t in zip(pred, data_samples)]
        return pred


@DATASETS.register_module(force=True)
class ToyRegressionDataset(Dataset):
    """``num`` samples x ~ N(0, 1)^in_dim, y = x . (1, -2, 3, ...) + 0.5, fixed by ``seed``."""

    metainfo: Dict = dict(classes=())

    def __init__(self, num: int = 32, in_dim: int = 4, seed: int = 0):
        gen = torch.Generator().manual_seed(seed)
        self.x = torch.randn(num, in_dim, generator=gen)
        weight = torch.arange(1, in_dim + 1, dtype=torch.float32) * torch.tensor([(-1.) ** i for i in range(in_dim)])
        self.y = self.x @ weight + 0.5

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, idx: int) -> dict:
        return dict(inputs=self.x[idx], data_samples=self.y[idx])


@METRICS.register_module(force=True)
class ToyMSEMetric(BaseMetric):
    """Mean squared error of ``ToyRegressor`` predictions, logged as ``toy/mse``."""

    default_prefix = 'toy'

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            self.results.append(float((sample['pred'] - sample['target']) ** 2))

    def compute_metrics(self, results: List[float]) -> dict:
        return dict(mse=sum(results) / max(len(results), 1))


@HOOKS.register_module(force=True)
class ToyWeightsDumpHook(Hook):
    """Save the model weights at ``before_train`` (after resume) to ``before_train_iter{iter}.pth``."""

    def before_train(self, runner) -> None:
        model = runner.model.module if hasattr(runner.model, 'module') else runner.model
        state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
        path = osp.join(runner.work_dir, f'before_train_iter{runner.iter}.pth')
        torch.save(dict(iter=runner.iter, state_dict=state), path)


@HOOKS.register_module(force=True)
class ToyVisualizationHook(Hook):
    """Stands in for mmdet's ``DetVisualizationHook`` (has ``test_out_dir``)."""

    def __init__(self, draw: bool = False, show: bool = False, wait_time: float = 0.,
                 test_out_dir: Optional[str] = None):
        self.draw, self.show, self.wait_time, self.test_out_dir = draw, show, wait_time, test_out_dir
