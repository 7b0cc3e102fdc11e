"""Image-caption pairs from a COCO-captions-format JSON."""
from __future__ import annotations

import json
import os.path as osp
from collections import defaultdict

from mmengine.dataset import BaseDataset

from ..registry import DATASETS


@DATASETS.register_module()
class CocoCaptionDataset(BaseDataset):
    """COCO captions (``images`` + ``annotations`` with ``caption``): one item per image.

    Each item: ``img_path``, ``img_id``, ``captions`` (list of str). Set
    ``data_prefix=dict(img_path='train2017')`` for the image folder.
    """

    def load_data_list(self) -> list[dict]:
        with open(self.ann_file) as f:
            coco = json.load(f)
        for key in ('images', 'annotations'):
            if key not in coco:
                raise KeyError(f'{self.ann_file!r} is not a COCO captions file: no {key!r} key')
        captions = defaultdict(list)
        for ann in coco['annotations']:
            captions[ann['image_id']].append(ann['caption'])
        prefix = self.data_prefix.get('img_path', '')
        return [dict(img_path=osp.join(prefix, img['file_name']), img_id=img['id'], captions=captions[img['id']])
                for img in coco['images'] if captions[img['id']]]
