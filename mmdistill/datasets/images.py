"""Unlabelled images of a COCO-format file, with optional region proposals (distillation data)."""
from __future__ import annotations

import logging
import os.path as osp
from typing import Optional

import numpy as np
from mmengine.dataset import BaseDataset
from mmengine.logging import print_log

from ..registry import DATASETS
from .ov_splits import read_json

IMAGE_KEYS = ('file_name', 'id', 'height', 'width')


@DATASETS.register_module()
class CocoImageDataset(BaseDataset):
    """The images listed in a COCO JSON (``images``), each with its proposals if a file is given.

    Items: ``img_path``, ``img_id``, ``height``, ``width`` and, with ``proposal_file``,
    ``proposals`` ``(N, 5)`` float32 ``x1, y1, x2, y2, score`` (COCO-results JSON,
    see ``mmdistill.datasets.proposals``). Annotations are not read: distillation
    needs no labels.

    A missing or empty ``images`` list, an image entry without ``file_name``, ``id``, ``height`` or
    ``width``, and a proposals file with no entry for any of the images are errors naming the file;
    images without proposals (some, not all) are logged with their count.
    """

    def __init__(self, *args, proposal_file: Optional[str] = None, **kwargs) -> None:
        self.proposal_file = proposal_file
        super().__init__(*args, **kwargs)

    def load_data_list(self) -> list[dict]:
        coco = read_json(self.ann_file, 'a COCO-format JSON with an "images" list')
        images = coco.get('images') if isinstance(coco, dict) else None
        if images is None:
            raise KeyError(f'{self.ann_file!r} has no "images" list: not a COCO-format file')
        if not images:
            raise ValueError(f'{self.ann_file!r}: the "images" list is empty (an empty dataset)')
        for i, img in enumerate(images):
            missing = [k for k in IMAGE_KEYS if k not in img]
            if missing:
                raise KeyError(f'{self.ann_file!r}: image entry {i} (id {img.get("id")}) has no {missing}')
        proposals = self._load_proposals()
        if proposals is not None:
            self._check_proposal_coverage(images, proposals)
        prefix = self.data_prefix.get('img_path', '')
        items = []
        for img in images:
            item = dict(img_path=osp.join(prefix, img['file_name']), img_id=img['id'], height=img['height'],
                        width=img['width'])
            if proposals is not None:
                item['proposals'] = proposals.get(img['id'], np.zeros((0, 5), dtype=np.float32))
            items.append(item)
        return items

    def _check_proposal_coverage(self, images: list[dict], proposals: dict) -> None:
        """No proposals for any image is an error (a file of another split); for some images, a warning
        with their count (they give no proposal regions)."""
        without = [img['id'] for img in images if img['id'] not in proposals]
        if len(without) == len(images):
            raise ValueError(f'proposals file {self.proposal_file!r} has no entry for any image of '
                             f'{self.ann_file!r} (proposals of another split?)')
        if without:
            print_log(f'proposals file {self.proposal_file!r}: {len(without)} of {len(images)} images of '
                      f'{self.ann_file!r} have no entry (e.g. image ids {without[:5]}); they give no proposal '
                      'regions', logger='current', level=logging.WARNING)

    def _load_proposals(self) -> Optional[dict]:
        if self.proposal_file is None:
            return None
        from .proposals import load_proposals
        path = self.proposal_file
        if not osp.isabs(path) and self.data_root:
            path = osp.join(self.data_root, path)
        return load_proposals(path)
