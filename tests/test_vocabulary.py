"""The vocabulary schema, its text classifier and the class-name reader of the data side."""
import glob
import json
import os
import os.path as osp
import subprocess
import sys
import textwrap

import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config, ConfigDict
from mmengine.registry import DefaultScope
from mmseg.registry import MODELS as SEG_MODELS

import mmdistill  # noqa: F401
from mmdistill.clip.builder import build_clip_model, build_tokenizer
from mmdistill.clip.text import build_text_classifier
from mmdistill.clip.vocabulary import SPLIT_KEYS, VOCABULARY_KEYS, TextClassifier, check_vocabulary
from mmdistill.datasets.class_names import class_names, parse_classes
from mmdistill.registry import MODELS

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
ARCH = 'mmdistill-tiny-ViT-P8'  # embed_dim 32
TEXT = dict(arch=ARCH, checkpoint=None)


def classifier(classes, **kwargs) -> TextClassifier:
    torch.manual_seed(0)  # the random text tower: the same weights every time
    return MODELS.build(dict(type='TextClassifier', classes=classes, text=TEXT, templates=['a {}.', 'the {}.'],
                             **kwargs))


def zero_shot(classes, **vocabulary) -> torch.nn.Module:
    cfg = ConfigDict(type='ZeroShotSegmentor', tower=dict(type='CLIPTower', arch=ARCH, checkpoint=None),
                     vocabulary=dict(dict(classes=classes, templates=['a {}.'], text=TEXT), **vocabulary))
    torch.manual_seed(0)
    with DefaultScope.overwrite_default_scope('mmseg'):
        return SEG_MODELS.build(cfg).eval()


# ------------------------------------------------------------------------------------------ names (data side)
def test_every_form_of_classes_gives_the_same_names(tmp_path):
    txt = tmp_path / 'classes.txt'
    txt.write_text('# VOC-style names, synonyms after ";"\naeroplane;airplane\n\n dog \n')
    split = tmp_path / 'split.json'
    split.write_text(json.dumps(dict(base=['aeroplane;airplane'], novel=['dog'])))
    expected = [('aeroplane', 'airplane'), ('dog', )]
    for form in (['aeroplane;airplane', 'dog'], [('aeroplane', 'airplane'), 'dog'], 'aeroplane; airplane, dog',
                 str(txt), str(split)):
        assert parse_classes(form) == expected, form
    assert class_names(str(txt)) == ['aeroplane;airplane', 'dog']
    assert class_names(dict(dataset='mmseg.PascalVOCDataset'))[:2] == ['background', 'aeroplane']
    with pytest.raises(ValueError, match=r"takes only dataset=TYPE, got keys \['datset'\]"):
        parse_classes(dict(datset='mmseg.PascalVOCDataset'))
    with pytest.raises(KeyError, match='not a registered dataset type'):
        parse_classes(dict(dataset='NoSuchDataset'))
    txt.write_text('cat\ncat\n')
    with pytest.raises(ValueError, match=f'{txt}.*more than once'):
        parse_classes(str(txt))


def test_the_name_reader_and_the_data_transforms_import_no_model_code():
    """``mmdistill.datasets`` (names, SeenClassLabels, the benchmark datasets) without the plugin's model side:
    the package's ``__init__`` (which imports everything) is skipped, the data package is imported for real."""
    code = textwrap.dedent(f'''
        import sys, types
        package = types.ModuleType('mmdistill')
        package.__path__ = [{osp.join(REPO, 'mmdistill')!r}]
        sys.modules['mmdistill'] = package
        from mmdistill.datasets.class_names import class_names
        from mmdistill.datasets.transforms import SeenClassLabels
        import mmdistill.datasets.seg_benchmarks
        labels = SeenClassLabels(classes='cat,dog;puppy,car', unseen_classes=['car'])
        assert labels.seen == ['cat', 'dog;puppy'] and class_names('a;b,c') == ['a;b', 'c']
        model_code = [m for m in sys.modules if m == 'open_clip' or m.startswith(('open_clip.', 'mmdistill.clip',
                      'mmdistill.seg', 'mmdistill.det', 'mmdistill.models', 'mmdistill.distill', 'mmseg.models',
                      'mmdet.models'))]
        assert not model_code, model_code
    ''')
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHONPATH=REPO)
    proc = subprocess.run([sys.executable, '-c', code], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]


# --------------------------------------------------------------------------------------------------- schema
def test_unknown_keys_are_errors_that_name_the_key():
    with pytest.raises(ValueError, match="ZeroShotSegmentor: vocabulary has unknown key 'class_names'"):
        zero_shot(['cat', 'dog'], class_names=['cat'])
    with pytest.raises(ValueError, match="'base_classes' is a split of other consumers"):
        zero_shot(['cat', 'dog'], base_classes=['cat'])
    with pytest.raises(ValueError, match="vocabulary.text has unknown key 'templates'"):  # the old dialect
        zero_shot(['cat', 'dog'], text=dict(TEXT, templates=['a {}.']))
    with pytest.raises(ValueError, match='vocabulary.text is missing'):
        check_vocabulary(dict(classes=['cat']), 'X')
    with pytest.raises(ValueError, match="name_cleaner must be one of.*'coco'"):
        check_vocabulary(dict(classes=['cat'], text=TEXT, name_cleaner='coco'), 'X')
    assert check_vocabulary(dict(classes=['cat'], text=TEXT, unseen_classes=['cat']), 'X',
                            splits=('unseen_classes', ))['unseen_classes'] == ['cat']


def test_the_classifier_gives_build_text_classifier_s_numbers():
    names = ['red circle', 'grass', 'brick_wall']
    text = classifier(names, background=True)
    torch.manual_seed(0)
    model = build_clip_model(ARCH, None).eval()
    expected = build_text_classifier(model, build_tokenizer(ARCH), names, templates=['a {}.', 'the {}.'],
                                     background=True)
    assert torch.equal(text.embeddings, expected) and text.embeddings.shape == (4, 32)
    assert text.name_to_class.tolist() == [0, 1, 2, 3] and text.vocabulary == names


def test_synonyms_are_averaged_and_set_vocabulary_changes_the_classes():
    apart = classifier(['cat', 'kitty', 'dog'])
    merged = classifier('cat;kitty,dog')
    assert torch.equal(merged.name_embeddings, apart.name_embeddings)
    assert merged.name_to_class.tolist() == [0, 0, 1] and merged.vocabulary == ['cat;kitty', 'dog']
    torch.testing.assert_close(merged.embeddings[0], F.normalize(apart.embeddings[:2].sum(0), dim=0))
    assert torch.equal(merged.embeddings[1], apart.embeddings[2])
    features = torch.randn(2, 32, 3, 4)
    assert merged(features, dim=1).shape == (2, 2, 3, 4) and merged(features, dim=1, per_name=True).shape[1] == 3
    torch.testing.assert_close(merged(features.movedim(1, -1)), merged(features, dim=1).movedim(1, -1))
    merged.set_vocabulary(['sky', 'road', 'car;automobile', 'tree'])
    assert merged(features, dim=1).shape == (2, 4, 3, 4) and merged.embeddings.shape == (4, 32)
    with pytest.raises(ValueError, match='no classes'):
        merged.set_vocabulary([])
    assert merged.vocabulary == ['sky', 'road', 'car;automobile', 'tree']  # unchanged


def test_set_vocabulary_changes_the_number_of_classes_of_a_consumer_s_output():
    model = zero_shot(['cat', 'dog;puppy', 'car'])
    images = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        assert model(images, mode='tensor').shape == (1, 3, 32, 32)
        model.set_vocabulary('sky,road,grass;lawn,tree,house')
        assert model(images, mode='tensor').shape == (1, 5, 32, 32)
    assert model.vocabulary == ['sky', 'road', 'grass;lawn', 'tree', 'house']


# -------------------------------------------------------------------------------------------------- configs
def vocabularies(node, path='cfg'):
    """Every ``vocabulary`` dict of a config, with its path."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == 'vocabulary' and isinstance(value, dict):
                yield f'{path}.{key}', value
            else:
                yield from vocabularies(value, f'{path}.{key}')
    elif isinstance(node, (list, tuple)):
        for i, value in enumerate(node):
            yield from vocabularies(value, f'{path}.{i}')


def test_every_config_writes_its_vocabulary_in_the_schema():
    files = sorted(glob.glob(osp.join(REPO, 'configs', '**', '*.py'), recursive=True)
                   + glob.glob(osp.join(REPO, 'projects', '**', 'configs', '**', '*.py'), recursive=True))
    known, text_keys, found = set(VOCABULARY_KEYS + SPLIT_KEYS), {'arch', 'checkpoint', 'trainable_attention',
                                                                  'grad_checkpointing'}, 0
    for path in files:
        model = Config.fromfile(path).to_dict().get('model')
        if not isinstance(model, dict):
            continue
        for where, vocabulary in vocabularies(model):
            found += 1
            assert set(vocabulary) <= known, (path, where, set(vocabulary) - known)
            assert set(vocabulary.get('text', {})) <= text_keys, (path, where, vocabulary['text'])
        # the old dialects: names beside the model, a text tower config of names, Cat-Seg's own text tower key
        assert 'class_names' not in model and 'arch' not in (model.get('text') or {}), path
        assert model.get('text_tower') is None or model['text_tower'].get('type') == 'CLIPTextTower', path
    assert found > 40
