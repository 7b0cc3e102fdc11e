"""Where does the crop-to-region gap come from? Accuracy by object size and context on the synthetic world.

For every thing instance of the world's val split it classifies (top-1, thing classes) the
object's box read out of the dense map (RoIAlign), the same box cropped and encoded alone,
and the box read out of a dense map computed on a *context-free* image (the object pasted on
the mean colour: what the region would look like without its surroundings). Groups:
small / large objects and objects in / out of their usual context (``in_context`` of the
world's instance annotations).

    python tools/analysis/context_gap.py --tower work_dirs/quickstart/tiny_clip.pt
"""
from __future__ import annotations

import argparse
import json
import os.path as osp
import sys

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from pycocotools import mask as mask_utils
from tqdm import tqdm

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
from mmdistill.clip import CLIPTower  # noqa: E402
from mmdistill.clip.pooling import crop_and_resize  # noqa: E402
from mmdistill.clip.vocabulary import TextClassifier  # noqa: E402
from mmdistill.datasets.synthetic import THING_CLASSES  # noqa: E402

MEAN = torch.tensor([122.7709383, 116.7460125, 104.09373615]).view(3, 1, 1)
STD = torch.tensor([68.5005327, 66.6321579, 70.32316305]).view(3, 1, 1)
TEMPLATES = ['a photo of {article} {}.', 'a close-up photo of {article} {}.', '{article} {}.']


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--world', default='data/synthetic_world')
    parser.add_argument('--tower', required=True, help='open_clip checkpoint of the image tower to analyse')
    parser.add_argument('--clip', default='work_dirs/quickstart/tiny_clip.pt', help='CLIP giving the text tower')
    parser.add_argument('--arch', default='mmdistill-world-ViT-P12')
    parser.add_argument('--small-side', type=float, default=16.0, help='objects under side^2 visible pixels are small')
    parser.add_argument('--crop-scale', type=float, default=1.15, help='as the quickstart evaluation config')
    parser.add_argument('--out', help='JSON file for the table')
    return parser.parse_args()


def load_split(world: str) -> tuple[list, dict]:
    coco = json.load(open(osp.join(world, 'annotations', 'instances_val2017.json')))
    by_image: dict[int, list] = {}
    for ann in coco['annotations']:
        by_image.setdefault(ann['image_id'], []).append(ann)
    return coco['images'], by_image


@torch.no_grad()
def main() -> None:
    args = parse_args()
    tower = CLIPTower(args.arch, checkpoint=args.tower, trainable='none').eval()
    classifier = TextClassifier(list(THING_CLASSES), text=dict(arch=args.arch, checkpoint=args.clip),
                                templates=TEMPLATES).embeddings
    images, anns = load_split(args.world)
    rows = []
    for img in tqdm(images, desc='val images'):
        items = anns.get(img['id'], [])
        if not items:
            continue
        pixels = np.array(Image.open(osp.join(args.world, 'val2017', img['file_name'])).convert('RGB'))
        image = (torch.from_numpy(pixels).permute(2, 0, 1).float() - MEAN) / STD
        boxes = torch.tensor([[a['bbox'][0], a['bbox'][1], a['bbox'][0] + a['bbox'][2], a['bbox'][1] + a['bbox'][3]]
                              for a in items], dtype=torch.float32)
        masks = torch.from_numpy(np.stack([mask_utils.decode(a['segmentation']) for a in items])).bool()
        # context-free images: each object alone on the mean colour (0 after normalisation)
        alone = image[None] * masks[:, None]
        dense = tower(torch.cat([image[None], alone])).dense
        size = tuple(image.shape[-2:])
        in_scene = tower.region_embeddings(dense[:1], [boxes], size)
        isolated = tower.region_embeddings(dense[1:], [b[None] for b in boxes], size)
        crops = F.normalize(tower.encode_image(crop_and_resize(image[None], [boxes], tower.native_size,
                                                               scale=args.crop_scale, letterbox=False)), dim=-1)
        image_rows = [dict(label=a['category_id'] - 1, area=a['area'], in_context=a['in_context']) for a in items]
        for name, emb in (('box', in_scene), ('box_without_context', isolated), ('crop', crops)):
            for row, pred in zip(image_rows, (emb @ classifier.T).argmax(1).tolist()):
                row[name] = pred
        rows.extend(image_rows)
    report(rows, args)


def report(rows: list[dict], args: argparse.Namespace) -> None:
    small = args.small_side ** 2
    groups = {'all': lambda r: True, 'small': lambda r: r['area'] < small, 'large': lambda r: r['area'] >= small,
              'in context': lambda r: r['in_context'], 'out of context': lambda r: not r['in_context']}
    table = {}
    print('| objects | n | crop | box (in scene) | box (object alone) | gap crop - box |\n|---|---|---|---|---|---|')
    for name, keep in groups.items():
        sel = [r for r in rows if keep(r)]
        acc = {k: 100 * float(np.mean([r[k] == r['label'] for r in sel])) for k in
               ('crop', 'box', 'box_without_context')}
        table[name] = dict(n=len(sel), **acc)
        print(f"| {name} | {len(sel)} | {acc['crop']:.1f} | {acc['box']:.1f} | {acc['box_without_context']:.1f} | "
              f"{acc['crop'] - acc['box']:.1f} |")
    if args.out:
        json.dump(table, open(args.out, 'w'), indent=1)


if __name__ == '__main__':
    main()
