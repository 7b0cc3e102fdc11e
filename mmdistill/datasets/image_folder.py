"""Unlabelled images of a folder (distillation on any images: ATAS needs no labels)."""
from __future__ import annotations

import os.path as osp
from typing import Sequence

from mmengine.dataset import BaseDataset
from mmengine.utils import scandir

from ..registry import DATASETS

IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.webp', '.tif', '.tiff')


@DATASETS.register_module()
class ImageFolderDataset(BaseDataset):
    """Every image file under a folder (``data_root`` joined with ``data_prefix['img_path']``).

    Items, in sorted path order: ``img_path`` and ``img_id`` (the index). Extensions are matched
    without regard to case; with ``recursive`` sub-folders are searched too. A missing folder or
    one without images is an error naming the folder.

    Args:
        extensions: file suffixes taken as images.
        recursive: search sub-folders.
        **kwargs: ``BaseDataset``'s (``data_root``, ``data_prefix=dict(img_path=...)``, ``pipeline``, ...).
    """

    def __init__(self, *args, extensions: Sequence[str] = IMAGE_EXTENSIONS, recursive: bool = True,
                 **kwargs) -> None:
        self.extensions = tuple(e.lower() for e in extensions)
        self.recursive = recursive
        super().__init__(*args, **kwargs)

    def load_data_list(self) -> list[dict]:
        folder = self.data_prefix.get('img_path') or self.data_root
        if not folder or not osp.isdir(folder):
            raise FileNotFoundError(f'image folder {folder!r} not found: put the images there or point the '
                                    f'dataset elsewhere (data_root / data_prefix.img_path)')
        files = sorted(scandir(folder, suffix=self.extensions, recursive=self.recursive, case_sensitive=False))
        if not files:
            raise FileNotFoundError(f'image folder {folder!r} holds no images ({", ".join(self.extensions)}'
                                    f'{", sub-folders included" if self.recursive else ""})')
        return [dict(img_path=osp.join(folder, name), img_id=i) for i, name in enumerate(files)]
