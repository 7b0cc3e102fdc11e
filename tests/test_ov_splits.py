"""Open-vocabulary splits on small crafted COCO / LVIS documents."""
import copy
import json
import os

import pytest

from mmdistill.datasets.ov_splits import (
    COCO_CLASSES,
    OV_COCO_BASE,
    OV_COCO_NOVEL,
    load_split,
    make_ov_instances,
    make_ov_lvis_train,
    prepare_ov_coco,
    prepare_ov_lvis,
    prepare_ov_world,
)

SPLIT = {'base': ['cat', 'dog'], 'novel': ['cow']}


def coco_doc(names, boxes_per_class=1, images=3):
    """Categories with ids 10, 20, ... and per image `boxes_per_class` boxes of every class."""
    categories = [{'id': 10 * (i + 1), 'name': n, 'supercategory': 'x'} for i, n in enumerate(names)]
    annotations = [{'id': len(names) * boxes_per_class * img + k + 1, 'image_id': img + 1, 'bbox': [0, 0, 5, 5],
                    'area': 25, 'iscrowd': 0, 'category_id': categories[k // boxes_per_class]['id']}
                   for img in range(images) for k in range(len(names) * boxes_per_class)]
    return {'info': {'year': 2017}, 'licenses': [],
            'images': [{'id': i + 1, 'file_name': f'{i + 1}.jpg', 'height': 8, 'width': 8} for i in range(images)],
            'annotations': annotations, 'categories': categories}


def write(path, obj):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj))


def read(path):
    return json.loads(open(path).read())


def test_ov_coco_classes():
    from mmdet.datasets import CocoDataset
    assert len(OV_COCO_BASE) == 48 and len(OV_COCO_NOVEL) == 17
    assert not set(OV_COCO_BASE) & set(OV_COCO_NOVEL)
    assert COCO_CLASSES == set(CocoDataset.METAINFO['classes'])
    assert set(OV_COCO_BASE + OV_COCO_NOVEL) < COCO_CLASSES


@pytest.mark.parametrize('annotate, kept', [('base', {10, 20}), ('all', {10, 20, 40})])
def test_make_ov_instances(annotate, kept):
    doc = coco_doc(['cat', 'dog', 'bird', 'cow'], boxes_per_class=2)
    original = copy.deepcopy(doc)
    out = make_ov_instances(doc, SPLIT, annotate)
    assert doc == original
    assert [(c['id'], c['name']) for c in out['categories']] == [(10, 'cat'), (20, 'dog'), (40, 'cow')]
    assert {a['category_id'] for a in out['annotations']} == kept
    assert len(out['annotations']) == 3 * 2 * len(kept)
    assert [a['id'] for a in out['annotations']] == [a['id'] for a in doc['annotations'] if a['category_id'] in kept]
    assert out['images'] == doc['images'] and out['info'] == doc['info']


def test_make_ov_instances_errors():
    doc = coco_doc(['cat', 'dog'])
    with pytest.raises(ValueError, match=r"train\.json.*'cow'"):
        make_ov_instances(doc, SPLIT, 'all', source='train.json')
    duplicated = coco_doc(['cat', 'dog', 'cow', 'dog'])
    with pytest.raises(ValueError, match="duplicate category names: \\['dog'\\]"):
        make_ov_instances(duplicated, SPLIT, 'base')
    with pytest.raises(ValueError, match='annotate'):
        make_ov_instances(coco_doc(['cat', 'dog', 'cow']), SPLIT, 'novel')


def test_load_split(tmp_path):
    path = tmp_path / 'split.json'
    write(path, SPLIT)
    assert load_split(str(path)) == SPLIT
    cases = [({'base': ['cat']}, '"novel"'), ({'base': ['cat', 'cat'], 'novel': []}, "duplicate base.*'cat'"),
             ({'base': ['cat', 'dog'], 'novel': ['dog']}, "both base and novel.*'dog'")]
    for split, message in cases:
        write(path, split)
        with pytest.raises(ValueError, match=f'split.json.*{message}'):
            load_split(str(path))
    with pytest.raises(FileNotFoundError, match='missing.json'):
        load_split(str(tmp_path / 'missing.json'))


def lvis_doc():
    doc = coco_doc(['aerosol_can', 'banjo', 'crab', 'dingo'])
    for cat, freq in zip(doc['categories'], 'frcr'):
        cat['frequency'] = freq
    doc['images'][0].update(neg_category_ids=[20, 30], not_exhaustive_category_ids=[10, 40])
    return doc


def test_make_ov_lvis_train():
    doc = lvis_doc()
    original = copy.deepcopy(doc)
    train, split = make_ov_lvis_train(doc, 'lvis.json')
    assert doc == original
    assert split == {'base': ['aerosol_can', 'crab'], 'novel': ['banjo', 'dingo']}
    assert train['categories'] == doc['categories']
    assert sorted({a['category_id'] for a in train['annotations']}) == [10, 30]
    assert len(train['annotations']) == 3 * 2
    assert train['images'][0]['neg_category_ids'] == [30]
    assert train['images'][0]['not_exhaustive_category_ids'] == [10]
    assert train['images'][1] == doc['images'][1]
    del doc['categories'][2]['frequency']
    with pytest.raises(ValueError, match='lvis.json is not an LVIS v1 instances file'):
        make_ov_lvis_train(doc, 'lvis.json')


def test_prepare_ov_lvis(tmp_path):
    with pytest.raises(FileNotFoundError, match='lvis_v1_val.json'):
        prepare_ov_lvis(str(tmp_path))
    write(tmp_path / 'annotations' / 'lvis_v1_val.json', lvis_doc())
    with pytest.raises(FileNotFoundError, match='lvis_v1_train.json'):
        prepare_ov_lvis(str(tmp_path))
    write(tmp_path / 'annotations' / 'lvis_v1_train.json', lvis_doc())
    paths = prepare_ov_lvis(str(tmp_path))
    assert paths['train'] == str(tmp_path / 'annotations' / 'ov' / 'lvis_v1_train_ov_norare.json')
    assert len(read(paths['train'])['annotations']) == 6
    assert read(paths['split'])['novel'] == ['banjo', 'dingo']


def test_prepare_ov_coco(tmp_path):
    from mmdet.datasets import CocoDataset
    others = [n for n in CocoDataset.METAINFO['classes'] if n not in OV_COCO_BASE + OV_COCO_NOVEL]
    with pytest.raises(FileNotFoundError, match='instances_train2017.json.*annotations_trainval2017.zip'):
        prepare_ov_coco(str(tmp_path))
    names = list(OV_COCO_NOVEL) + others + list(OV_COCO_BASE)  # 80, novel first
    for split, images in (('train', 2), ('val', 3)):
        write(tmp_path / 'annotations' / f'instances_{split}2017.json', coco_doc(names, images=images))
    paths = prepare_ov_coco(str(tmp_path), str(tmp_path / 'out'))
    assert sorted(os.listdir(tmp_path / 'out')) == [
        'instances_train2017_ov_base.json', 'instances_val2017_ov_all.json', 'ov_coco_split.json']
    assert read(paths['split']) == {'base': list(OV_COCO_BASE), 'novel': list(OV_COCO_NOVEL)}
    train, val = read(paths['train']), read(paths['val'])
    ov_ids = [10 * (i + 1) for i, n in enumerate(names) if n not in others]
    base_ids = ov_ids[17:]
    for doc, images, ids in ((train, 2, base_ids), (val, 3, ov_ids)):
        assert [c['id'] for c in doc['categories']] == ov_ids
        assert len(doc['images']) == images
        assert sorted({a['category_id'] for a in doc['annotations']}) == ids
        assert len(doc['annotations']) == images * len(ids)
    write(tmp_path / 'annotations' / 'instances_val2017.json', coco_doc(names[:79]))
    with pytest.raises(ValueError, match='instances_val2017.json is not a COCO 2017 instances file'):
        prepare_ov_coco(str(tmp_path))
    write(tmp_path / 'annotations' / 'instances_train2017.json', {'images': []})
    with pytest.raises(ValueError, match='instances_train2017.json is not a COCO 2017 instances file'):
        prepare_ov_coco(str(tmp_path))


def test_prepare_ov_world_is_idempotent(tmp_path):
    with pytest.raises(FileNotFoundError, match='ov_detection.json.*make_synthetic_world'):
        prepare_ov_world(str(tmp_path))
    write(tmp_path / 'splits' / 'ov_detection.json', SPLIT)
    for split in ('train', 'val'):
        write(tmp_path / 'annotations' / f'instances_{split}2017.json', coco_doc(['cow', 'bird', 'dog', 'cat']))
    paths = prepare_ov_world(str(tmp_path))
    assert {a['category_id'] for a in read(paths['train'])['annotations']} == {30, 40}
    assert {a['category_id'] for a in read(paths['val'])['annotations']} == {10, 30, 40}
    val_mtime = os.stat(paths['val']).st_mtime_ns
    old = os.stat(tmp_path / 'splits' / 'ov_detection.json').st_mtime_ns - 10**9
    os.utime(paths['train'], ns=(old, old))  # older than the split file: rewritten
    assert prepare_ov_world(str(tmp_path)) == paths
    assert os.stat(paths['val']).st_mtime_ns == val_mtime
    assert os.stat(paths['train']).st_mtime_ns > old
    assert {a['category_id'] for a in read(paths['train'])['annotations']} == {30, 40}
