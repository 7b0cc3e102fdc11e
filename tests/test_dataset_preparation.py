"""The segmentation benchmarks' preparation: PASCAL Context's converter on crafted release files, and the config
check's generated releases converted by the documented commands (mmseg's converters, the project's tool)."""
import json
import os
import subprocess
import sys

import cv2
import numpy as np
import pytest
from PIL import Image
from pycocotools import mask as mask_utils
from scipy.io import loadmat, savemat

from mmdistill.datasets import check_releases
from mmdistill.datasets.check_data import write_check_data
from mmdistill.datasets.generated_files import CheckDataError, block_map
from mmdistill.datasets.pascal_context import (
    CONTEXT59_LABEL_IDS,
    NUM_FULL_LABELS,
    prepare_pascal_context,
    read_full_labels,
)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SIZE = (24, 32)


def rle(mask):
    encoded = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return dict(size=encoded['size'], counts=encoded['counts'].decode('ascii'))


def write_labels_txt(voc2010):
    (voc2010 / 'labels.txt').write_text(''.join(f'{k}: name{k}\n' for k in range(1, NUM_FULL_LABELS + 1)))


def test_context59_order_is_mmseg_class_order():
    from mmseg.datasets import PascalContextDataset59
    assert tuple(n for n, _ in CONTEXT59_LABEL_IDS) == PascalContextDataset59.METAINFO['classes']
    ids = [i for _, i in CONTEXT59_LABEL_IDS]
    assert ids == sorted(ids) and len(set(ids)) == 59 and 0 < min(ids) and max(ids) <= NUM_FULL_LABELS


def test_context60_maps_from_the_merged_json(tmp_path):
    voc2010 = tmp_path / 'VOC2010'
    voc2010.mkdir()
    whole, top, corner = np.ones(SIZE, bool), np.zeros(SIZE, bool), np.zeros(SIZE, bool)
    top[:8] = True
    corner[:4, :4] = True
    images = [dict(image_id=11, file_name='2008_000001.jpg', height=SIZE[0], width=SIZE[1], phase='train'),
              dict(image_id=12, file_name='2008_000002.jpg', height=SIZE[0], width=SIZE[1], phase='val')]
    segments = [dict(image_id=11, category_id=2, segmentation=rle(whole)),     # aeroplane -> 1
                dict(image_id=11, category_id=458, segmentation=rle(top)),     # wood -> 59, painted over it
                dict(image_id=11, category_id=3, segmentation=rle(corner)),    # not a Context-59 class -> 0
                dict(image_id=12, category_id=284, segmentation=dict(size=list(SIZE), counts=[0, SIZE[0] * SIZE[1]]))]
    (voc2010 / 'trainval_merged.json').write_text(json.dumps(dict(images=images, annos_segmentation=segments)))
    done = prepare_pascal_context(str(voc2010), progress=False)
    assert done == ['SegmentationClassContext/ (1 train, 1 val images)']
    first = cv2.imread(str(voc2010 / 'SegmentationClassContext' / '2008_000001.png'), cv2.IMREAD_UNCHANGED)
    expected = np.full(SIZE, 1, np.uint8)
    expected[:8] = 59
    expected[:4, :4] = 0
    np.testing.assert_array_equal(first, expected)
    second = cv2.imread(str(voc2010 / 'SegmentationClassContext' / '2008_000002.png'), cv2.IMREAD_UNCHANGED)
    person = [n for n, _ in CONTEXT59_LABEL_IDS].index('person') + 1
    assert (second == person).all()  # an uncompressed RLE is read too
    lists = voc2010 / 'ImageSets' / 'SegmentationContext'
    assert (lists / 'train.txt').read_text().split() == ['2008_000001']
    assert (lists / 'val.txt').read_text().split() == ['2008_000002']


def test_context459_maps_and_names(tmp_path):
    voc2010 = tmp_path / 'VOC2010'
    (voc2010 / 'trainval').mkdir(parents=True)
    write_labels_txt(voc2010)
    label_map = np.zeros(SIZE, np.uint16)
    label_map[:, 10:] = 1
    label_map[:, 20:] = NUM_FULL_LABELS
    savemat(str(voc2010 / 'trainval' / '2008_000009.mat'), {'LabelMap': label_map})
    (tmp_path / 'val.txt').write_text('2008_000009\n')
    done = prepare_pascal_context(str(voc2010), val_list=str(tmp_path / 'val.txt'), progress=False)
    assert done == ['annotations_detectron2/pc459_val/ (1 val images), pc459_classes.txt']
    tif = cv2.imread(str(voc2010 / 'annotations_detectron2' / 'pc459_val' / '2008_000009.tif'), cv2.IMREAD_UNCHANGED)
    assert tif.dtype == np.uint16
    assert (tif[:, :10] == 65535).all() and (tif[:, 10:20] == 0).all() and (tif[:, 20:] == NUM_FULL_LABELS - 1).all()
    names = (voc2010 / 'pc459_classes.txt').read_text().splitlines()
    assert len(names) == NUM_FULL_LABELS and names[0] == 'name1' and names[-1] == f'name{NUM_FULL_LABELS}'


def test_context_errors_name_the_files(tmp_path):
    with pytest.raises(FileNotFoundError, match='trainval_merged.json'):
        prepare_pascal_context(str(tmp_path), progress=False)
    (tmp_path / 'labels.txt').write_text('1: a\n3: c\n')
    with pytest.raises(ValueError, match='labels.txt.*1-459'):
        read_full_labels(str(tmp_path / 'labels.txt'))
    (tmp_path / 'trainval').mkdir()
    write_labels_txt(tmp_path)
    with pytest.raises(FileNotFoundError, match='SegmentationContext/val.txt'):
        prepare_pascal_context(str(tmp_path), progress=False)


def test_pascal_context_tool(tmp_path):
    voc2010 = tmp_path / 'VOC2010'
    check_releases.write_pascal_context_release(str(voc2010), SIZE)
    out = subprocess.run([sys.executable, os.path.join(REPO, 'tools', 'data', 'prepare_pascal_context.py'),
                          str(voc2010)], capture_output=True, text=True, check=True).stdout
    assert 'SegmentationClassContext/ (2 train, 2 val images)' in out and 'pc459_val/ (2 val images)' in out


def test_voc_release_through_mmseg_voc_aug(tmp_path):
    devkit = tmp_path / 'VOCdevkit'
    check_releases.write_voc_release(str(devkit), SIZE)
    sets = devkit / 'VOC2012' / 'ImageSets' / 'Segmentation'
    splits = check_releases.VOC_SPLITS
    assert set((sets / 'aug.txt').read_text().split()) == \
        (set(splits['sbd_train']) | set(splits['sbd_val'])) - set(splits['voc_train']) - set(splits['voc_val'])
    assert set((sets / 'trainaug.txt').read_text().split()) == \
        (set(splits['voc_train']) | set(splits['sbd_train']) | set(splits['sbd_val'])) - set(splits['voc_val'])
    for name in splits['sbd_train']:
        mat = loadmat(str(devkit / 'VOCaug' / 'dataset' / 'cls' / f'{name}.mat'))['GTcls'][0]['Segmentation'][0]
        aug = np.array(Image.open(devkit / 'VOC2012' / 'SegmentationClassAug' / f'{name}.png'))
        np.testing.assert_array_equal(aug, mat)
    voc = Image.open(devkit / 'VOC2012' / 'SegmentationClass' / f'{splits["voc_val"][0]}.png')
    assert voc.mode == 'P' and set(np.unique(np.array(voc))) == {0, 7, 13, 20, 255}


def test_voc_aug_dataset_reads_the_converted_maps(tmp_path):
    from mmseg.datasets import PascalVOCDataset
    from mmseg.datasets.transforms import LoadAnnotations
    root = tmp_path / 'VOCdevkit' / 'VOC2012'
    ds = dict(type='PascalVOCDataset', data_root=str(root), ann_file='ImageSets/Segmentation/aug.txt',
              data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClassAug'))
    assert write_check_data(ds, SIZE) == [f'data: {root.parent} generated as its release unpacks, then: '
                                          'python $MMSEG_TOOLS/dataset_converters/voc_aug.py data/VOCdevkit '
                                          'data/VOCdevkit/VOCaug']
    assert write_check_data(ds, SIZE) == []  # the release is there: nothing runs again
    dataset = PascalVOCDataset(**{k: v for k, v in ds.items() if k != 'type'},
                               pipeline=[LoadAnnotations()])
    assert len(dataset) == 3
    sample = dataset[0]
    assert sample['seg_map_path'].startswith(str(root / 'SegmentationClassAug'))
    np.testing.assert_array_equal(sample['gt_seg_map'], np.array(Image.open(sample['seg_map_path'])))
    assert len(set(np.unique(sample['gt_seg_map']))) >= 3


def test_coco_stuff_release_through_mmseg_converter(tmp_path):
    root = tmp_path / 'coco_stuff164k'
    check_releases.write_coco_stuff_release(str(root), SIZE)
    converter = check_releases.mmseg_converter('coco_stuff164k')
    for split in ('train2017', 'val2017'):
        for raw_path in (root / 'annotations' / split).glob('*[0-9].png'):
            raw = np.array(Image.open(raw_path))
            train_ids = np.array(Image.open(str(raw_path)[:-4] + '_labelTrainIds.png'))
            expected = np.vectorize(lambda v: converter.clsID_to_trID.get(int(v), 255))(raw)
            np.testing.assert_array_equal(train_ids, expected)
            assert len(set(np.unique(train_ids)) - {255}) >= 3


def test_cityscapes_release_through_mmseg_converter(tmp_path):
    root = tmp_path / 'cityscapes'
    check_releases.write_cityscapes_release(str(root), SIZE)
    stem = root / 'gtFine' / 'val' / 'frankfurt' / 'frankfurt_000000_000000'
    train_ids = cv2.imread(f'{stem}_gtFine_labelTrainIds.png', cv2.IMREAD_UNCHANGED)
    polygons = json.loads(open(f'{stem}_gtFine_polygons.json').read())['objects']
    train_id = dict(road=0, building=2, vegetation=8, car=13)  # Cityscapes' 19-class train ids
    for obj in polygons:
        (x1, y1), (x2, y2) = obj['polygon'][0], obj['polygon'][2]
        assert (train_ids[y1 + 1:y2 - 1, x1 + 1:x2 - 1] == train_id[obj['label']]).all()
    assert train_ids[0, 0] == 255
    assert sorted((root / 'val.txt').read_text().split()) == ['frankfurt/frankfurt_000000_000000',
                                                              'frankfurt/frankfurt_000000_000001']


def test_a_missing_converter_package_is_named(tmp_path, monkeypatch):
    for name in [m for m in sys.modules if m.split('.')[0] == 'cityscapesscripts'] + ['cityscapesscripts']:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.delitem(sys.modules, 'mmseg_dataset_converter_cityscapes', raising=False)
    with pytest.raises(CheckDataError, match="cityscapes.py needs the package 'cityscapesscripts'"):
        check_releases.write_cityscapes_release(str(tmp_path / 'cityscapes'), SIZE)


def test_a_path_the_preparation_does_not_write_is_an_error(tmp_path):
    ds = dict(type='PascalVOCDataset', data_root=str(tmp_path / 'VOCdevkit' / 'VOC2012'),
              ann_file='ImageSets/Segmentation/val.txt',
              data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationObject'))
    with pytest.raises(CheckDataError, match='SegmentationObject.*write_voc_release'):
        write_check_data(ds, SIZE)


def test_block_map_labels_and_outline():
    label = block_map(1, (20, 20), [5, 6, 7, 8], background=0, outline=255)
    assert label[0, 0] == 0 and label[2, 2] == 255 and label[4, 4] == 6 and label[14, 4] == 8


def test_label_maps_are_read_as_stored(tmp_path):
    from mmdistill.analysis.data import load_image_set
    from mmdistill.datasets.label_maps import read_label_map
    label = block_map(0, SIZE, [3, 7, 11, 20], background=0, outline=255)
    palette = Image.fromarray(label, mode='P')
    palette.putpalette(list(range(256)) * 3)
    (tmp_path / 'img').mkdir()
    (tmp_path / 'ann').mkdir()
    palette.save(tmp_path / 'ann' / 'a.png')
    cv2.imwrite(str(tmp_path / 'img' / 'a.jpg'), np.zeros((*SIZE, 3), np.uint8))
    np.testing.assert_array_equal(read_label_map(str(tmp_path / 'ann' / 'a.png')), label)  # OpenCV gives colours
    wide = block_map(1, SIZE, [300, 458], background=65535, dtype=np.uint16)
    cv2.imwrite(str(tmp_path / 'wide.tif'), wide)
    read = read_label_map(str(tmp_path / 'wide.tif'))
    assert read.dtype == np.uint16
    np.testing.assert_array_equal(read, wide)
    images = load_image_set(str(tmp_path / 'img'), size=SIZE[0], ann_dir=str(tmp_path / 'ann'), progress=False)
    np.testing.assert_array_equal(images.labels[0].numpy(), cv2.resize(label, (SIZE[0], SIZE[0]),
                                                                       interpolation=cv2.INTER_NEAREST))
    cv2.imwrite(str(tmp_path / 'colour.png'), np.zeros((*SIZE, 3), np.uint8))
    with pytest.raises(ValueError, match='colour.png: expected a single-channel label map'):
        read_label_map(str(tmp_path / 'colour.png'))


def test_the_docs_give_the_commands_the_check_runs():
    import re
    docs = open(os.path.join(REPO, 'docs', 'datasets.md'), encoding='utf-8').read()
    snippet = re.search(r'MMSEG_TOOLS=\$\(python -c "([^"]+)"\)', docs).group(1)
    tools = subprocess.run([sys.executable, '-c', snippet], capture_output=True, text=True, check=True).stdout.strip()
    converter = check_releases.mmseg_converter('voc_aug')
    assert os.path.dirname(converter.__file__) == os.path.join(tools, 'dataset_converters')
    for writer, command in check_releases.DOCUMENTED_COMMANDS.items():
        assert callable(getattr(check_releases, writer)) and command in docs, command
        script = command.split()[1].replace('$MMSEG_TOOLS', tools)
        assert os.path.isfile(script if os.path.isabs(script) else os.path.join(REPO, script)), script
    assert len(check_releases.DOCUMENTED_COMMANDS) == 4
