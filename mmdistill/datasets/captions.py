"""Image-caption pairs from a COCO-captions-format JSON."""
from __future__ import annotations

import logging
import os.path as osp
from collections import defaultdict

from mmengine.dataset import BaseDataset
from mmengine.logging import print_log

from ..registry import DATASETS
from .ov_splits import read_json


@DATASETS.register_module()
class CocoCaptionDataset(BaseDataset):
    """COCO captions (``images`` + ``annotations`` with ``caption``): one item per image.

    Each item: ``img_path``, ``img_id``, ``captions`` (list of str). Set
    ``data_prefix=dict(img_path='train2017')`` for the image folder. Images without a caption are
    skipped (their count is logged); a caption naming an image not in ``images`` and a file without
    any captioned image are errors naming the file.
    """

    def load_data_list(self) -> list[dict]:
        coco = read_json(self.ann_file, 'a COCO captions JSON ("images" and "annotations" with "caption")')
        for key in ('images', 'annotations'):
            if not isinstance(coco, dict) or key not in coco:
                raise KeyError(f'{self.ann_file!r} is not a COCO captions file: no {key!r} key')
        ids = {img['id'] for img in coco['images']}
        captions = defaultdict(list)
        for i, ann in enumerate(coco['annotations']):
            if 'caption' not in ann or ann.get('image_id') not in ids:
                problem = 'has no "caption"' if 'caption' not in ann else f'names image {ann.get("image_id")!r}, ' \
                    'which is not in "images"'
                raise ValueError(f'{self.ann_file!r}: caption annotation {i} (id {ann.get("id")}) {problem}')
            captions[ann['image_id']].append(ann['caption'])
        prefix = self.data_prefix.get('img_path', '')
        items = [dict(img_path=osp.join(prefix, img['file_name']), img_id=img['id'], captions=captions[img['id']])
                 for img in coco['images'] if captions[img['id']]]
        if not items:
            raise ValueError(f'{self.ann_file!r}: no image has a caption (an empty dataset)')
        skipped = len(coco['images']) - len(items)
        if skipped:
            print_log(f'{self.ann_file!r}: {skipped} of {len(coco["images"])} images have no caption and are '
                      'skipped', logger='current', level=logging.WARNING)
        return items
