"""Unlabelled images of a COCO-format file, with optional region proposals (distillation data)."""
from __future__ import annotations

import json
import os.path as osp
from typing import Optional

import numpy as np
from mmengine.dataset import BaseDataset

from ..registry import DATASETS


@DATASETS.register_module()
class CocoImageDataset(BaseDataset):
    """The images listed in a COCO JSON (``images``), each with its proposals if a file is given.

    Items: ``img_path``, ``img_id``, ``height``, ``width`` and, with ``proposal_file``,
    ``proposals`` ``(N, 5)`` float32 ``x1, y1, x2, y2, score`` (COCO-results JSON,
    see ``mmdistill.datasets.proposals``). Annotations are not read: distillation
    needs no labels.
    """

    def __init__(self, *args, proposal_file: Optional[str] = None, **kwargs) -> None:
        self.proposal_file = proposal_file
        super().__init__(*args, **kwargs)

    def load_data_list(self) -> list[dict]:
        with open(self.ann_file) as f:
            images = json.load(f).get('images')
        if images is None:
            raise KeyError(f'{self.ann_file!r} has no "images" list: not a COCO-format file')
        proposals = self._load_proposals()
        prefix = self.data_prefix.get('img_path', '')
        items = []
        for img in images:
            item = dict(img_path=osp.join(prefix, img['file_name']), img_id=img['id'], height=img['height'],
                        width=img['width'])
            if proposals is not None:
                item['proposals'] = proposals.get(img['id'], np.zeros((0, 5), dtype=np.float32))
            items.append(item)
        return items

    def _load_proposals(self) -> Optional[dict]:
        if self.proposal_file is None:
            return None
        from .proposals import load_proposals
        path = self.proposal_file
        if not osp.isabs(path) and self.data_root:
            path = osp.join(self.data_root, path)
        return load_proposals(path)
