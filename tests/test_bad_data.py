"""Bad data is a clear error naming the file and the item, or skipped with a logged count where skipping is
the documented behaviour; never a silent wrong result.

Duplicate class names are tested where class lists are read: test_ov_splits.py (categories of an instances
file), test_fvit.py and test_c2s.py (vocabularies).
"""
import json
import logging

import numpy as np
import pytest
import torch
from mmengine.logging import MMLogger
from mmengine.runner import Runner

import mmdistill  # noqa: F401
from mmdistill.datasets.captions import CocoCaptionDataset
from mmdistill.datasets.images import CocoImageDataset
from mmdistill.datasets.ov_splits import make_ov_instances
from mmdistill.datasets.transforms.loading import LoadImageFromFileCached


def write(path, obj) -> str:
    path.write_text(json.dumps(obj))
    return str(path)


def images(n: int) -> list[dict]:
    return [dict(id=i + 1, file_name=f'{i + 1}.png', height=8, width=8) for i in range(n)]


@pytest.fixture
def warnings_logged():
    """The messages mmdistill logs at WARNING level during the test."""
    records = []
    handler = logging.Handler(level=logging.WARNING)
    handler.emit = lambda record: records.append(record.getMessage())
    logger = MMLogger.get_current_instance()
    logger.addHandler(handler)
    yield records
    logger.removeHandler(handler)


def test_a_corrupt_image_is_an_error_naming_the_file(tmp_path):
    bad = tmp_path / 'broken.png'
    bad.write_bytes(b'\x89PNG\r\n\x1a\n not really a png')
    with pytest.raises(Exception, match='broken.png'):
        LoadImageFromFileCached().transform(dict(img_path=str(bad)))


def test_a_missing_annotation_file_is_an_error_naming_it(tmp_path):
    missing = tmp_path / 'no_such_instances.json'
    with pytest.raises(FileNotFoundError, match='no_such_instances.json'):
        CocoImageDataset(ann_file=str(missing))
    with pytest.raises(FileNotFoundError, match='no_such_instances.json'):
        CocoCaptionDataset(ann_file=str(missing))
    broken = tmp_path / 'broken.json'
    broken.write_text('{"images": [')
    with pytest.raises(ValueError, match='broken.json is not valid JSON'):
        CocoImageDataset(ann_file=str(broken))


def test_an_empty_dataset_is_an_error(tmp_path):
    with pytest.raises(ValueError, match=r"empty.json'?: the \"images\" list is empty"):
        CocoImageDataset(ann_file=write(tmp_path / 'empty.json', dict(images=[])))
    no_captions = write(tmp_path / 'captions.json', dict(images=images(2), annotations=[]))
    with pytest.raises(ValueError, match='no image has a caption'):
        CocoCaptionDataset(ann_file=no_captions)


def test_an_empty_training_set_stops_the_runner_instead_of_looping(tmp_path):
    from test_loss_guard import Toy
    runner = Runner(model=Toy(bad_at=10), work_dir=str(tmp_path), experiment_name='empty_training_set',
                    train_dataloader=dict(dataset=[], batch_size=1, sampler=dict(type='InfiniteSampler'),
                                          collate_fn=dict(type='default_collate')),
                    train_cfg=dict(by_epoch=False, max_iters=2),
                    optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1)),
                    custom_hooks=[dict(type='mmdistill.NonEmptyTrainDataHook')])
    with pytest.raises(ValueError, match='training dataset list .* has no item'):
        runner.train()


def test_an_image_entry_without_its_keys_names_the_entry(tmp_path):
    entries = images(3)
    del entries[1]['file_name']
    with pytest.raises(KeyError, match=r"image entry 1 \(id 2\) has no \['file_name'\]"):
        CocoImageDataset(ann_file=write(tmp_path / 'instances.json', dict(images=entries)))


def test_a_caption_of_an_unknown_image_is_an_error_and_uncaptioned_images_are_counted(tmp_path, warnings_logged):
    anns = [dict(id=10, image_id=1, caption='a red circle'), dict(id=11, image_id=7, caption='a blue star')]
    with pytest.raises(ValueError, match=r'caption annotation 1 \(id 11\) names image 7, which is not in "images"'):
        CocoCaptionDataset(ann_file=write(tmp_path / 'a.json', dict(images=images(3), annotations=anns)))
    dataset = CocoCaptionDataset(ann_file=write(tmp_path / 'b.json', dict(images=images(3), annotations=anns[:1])))
    assert len(dataset) == 1
    assert any('2 of 3 images have no caption and are skipped' in m for m in warnings_logged)


def test_an_annotation_naming_an_unknown_category_is_an_error():
    doc = dict(images=images(1), categories=[dict(id=1, name='cat'), dict(id=2, name='dog')],
               annotations=[dict(id=5, image_id=1, category_id=1, bbox=[0, 0, 2, 2]),
                            dict(id=6, image_id=1, category_id=9, bbox=[0, 0, 2, 2])])
    with pytest.raises(ValueError, match=r'instances.json: annotation 6 \(image 1\) names category id 9'):
        make_ov_instances(doc, dict(base=['cat'], novel=['dog']), 'base', source='instances.json')


def test_proposals_missing_for_some_images_are_counted_for_all_an_error(tmp_path, warnings_logged):
    ann = write(tmp_path / 'instances.json', dict(images=images(3)))
    props = write(tmp_path / 'proposals.json', [dict(image_id=1, bbox=[0, 0, 4, 4], score=0.9)])
    dataset = CocoImageDataset(ann_file=ann, proposal_file=props)
    assert [len(dataset[i]['proposals']) for i in range(3)] == [1, 0, 0]
    assert any('2 of 3 images' in m and 'image ids [2, 3]' in m for m in warnings_logged)
    other = write(tmp_path / 'other.json', [dict(image_id=99, bbox=[0, 0, 4, 4], score=0.9)])
    with pytest.raises(ValueError, match='other.json.* has no entry for any image of'):
        CocoImageDataset(ann_file=ann, proposal_file=other)


def test_world_files_load_without_warnings(warnings_logged, tmp_path):
    """The synthetic world's own files are complete: every image has proposals and a caption."""
    from mmdistill.datasets.synthetic import generate_world
    world = str(tmp_path / 'world')
    generate_world(world, seed=3, num_train=4, num_val=6, workers=1, progress=False)
    data = CocoImageDataset(data_root=world, ann_file='annotations/instances_val2017.json',
                            proposal_file='proposals/proposals_val2017.json')
    assert len(data) > 0 and not warnings_logged
    assert isinstance(data[0]['proposals'], (np.ndarray, torch.Tensor))
