"""The web demo's functions, without a browser: the same masks and boxes as the inferencers, synonyms, readouts,
the affinity map of a point, the errors the page shows, the main job's catalogue and the command line."""
import glob
import os
import os.path as osp
import shutil

import mmcv
import numpy as np
import pytest
import torch
from train_helpers import load_tool
from web_demo_models import small_world

from mmdistill.apis import OVDetInferencer, OVSegInferencer
from mmdistill.apis.quickstart import load_main_job
from mmdistill.apis.web_demo import (
    QUICKSTART_COMMAND,
    READOUTS,
    WORLD_CONFIGS,
    DemoError,
    DemoModel,
    WebDemo,
    config_model,
    display_scale,
    parse_classes,
    quickstart_models,
    random_world_models,
    read_image,
    upscale,
    world_examples,
)
from mmdistill.utils.run_manifest import read_manifest, record_model, record_tower

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
SEG_KINDS = ('training_free', 'catseg', 'c2s')
TOWER = 'random tiny CLIP'


pytestmark = pytest.mark.usefixtures('one_torch_thread')


@pytest.fixture(scope='module')
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp('web_demo')
    world = small_world(root)
    models = random_world_models(world, str(root / 'models'), TOWER, repo=REPO)
    assert [m.kind for m in models] == list(WORLD_CONFIGS)
    return dict(root=root, world=world, clip=str(root / 'models' / 'tiny_clip.pt'),
                models={m.kind: m for m in models}, demo=WebDemo(models, device='cpu'),
                image=world_examples(world)[0])


def seg_reference(model: DemoModel, image: str, texts: list, readout: str = 'value') -> np.ndarray:
    cfg = model.config.copy()
    if model.kind == 'training_free':
        cfg.model.tower.dense_path = readout
    sample = OVSegInferencer(cfg, model.checkpoint, texts=texts, device='cpu')(image, return_datasamples=True)
    return sample.pred_sem_seg.data[0].numpy()


def det_reference(inferencer: OVDetInferencer, image: str, texts: list):
    inferencer.set_vocabulary(texts)
    return inferencer(image, return_datasamples=True)['predictions'][0].pred_instances


@pytest.mark.parametrize('kind', SEG_KINDS)
def test_segmentation_equals_the_inferencer(setup, kind):
    pred = setup['demo'].predict(setup['image'], 'red circle, grass, sky, blue heart', kind, TOWER)
    reference = seg_reference(setup['models'][kind], setup['image'], ['red circle', 'grass', 'sky', 'blue heart'])
    assert pred.labels.shape == (96, 96) and pred.picture.shape == (96, 96, 3)
    np.testing.assert_array_equal(pred.labels, reference)
    shares = np.bincount(reference.ravel(), minlength=4) / reference.size
    assert pred.scores == pytest.approx(dict(zip(['red circle', 'grass', 'sky', 'blue heart'], shares)))


def test_each_readout_equals_an_inferencer_built_with_it(setup):
    demo, model = setup['demo'], setup['models']['training_free']
    texts = ['red circle', 'grass', 'sky']
    for readout in ['NACLIP', 'value (MaskCLIP)', 'ClearCLIP', 'SCLIP']:  # one cached model switched back and forth
        pred = demo.predict(setup['image'], ', '.join(texts), 'training_free', TOWER, readout=readout)
        np.testing.assert_array_equal(pred.labels, seg_reference(model, setup['image'], texts, READOUTS[readout]))


@pytest.mark.parametrize('kind', ['training_free', 'c2s'])
def test_synonyms(setup, kind):
    """Models without synonyms score each name and the name's label becomes its class."""
    pred = setup['demo'].predict(setup['image'], 'red circle;red disc, grass;lawn, sky', kind, TOWER)
    assert pred.classes == ['red circle;red disc', 'grass;lawn', 'sky']
    if kind == 'training_free':  # the segmentor takes the max over the names itself
        reference = seg_reference(setup['models'][kind], setup['image'], ['red circle;red disc', 'grass;lawn', 'sky'])
    else:
        names = ['red circle', 'red disc', 'grass', 'lawn', 'sky']
        reference = np.array([0, 0, 1, 1, 2])[seg_reference(setup['models'][kind], setup['image'], names)]
    np.testing.assert_array_equal(pred.labels, reference)


def test_detection_equals_the_inferencer(setup):
    demo, model = setup['demo'], setup['models']['fvit']
    inferencer = OVDetInferencer(model.config, model.checkpoint, device='cpu', show_progress=False)
    reference = det_reference(inferencer, setup['image'], ['red circle', 'blue heart'])
    assert len(reference) > 0
    for thr in (0.0, float(np.median(reference.scores.numpy()))):
        pred = demo.predict(setup['image'], 'red circle, blue heart', 'fvit', TOWER, score_thr=thr)
        keep = reference.scores.numpy() >= thr
        np.testing.assert_array_equal(pred.boxes, reference.bboxes.numpy()[keep])
        np.testing.assert_array_equal(pred.box_labels, reference.labels.numpy()[keep])
        np.testing.assert_array_equal(pred.box_scores, reference.scores.numpy()[keep])
    best = [reference.scores[reference.labels == k].max().item() if (reference.labels == k).any() else 0.0
            for k in range(2)]
    assert pred.scores == pytest.approx(dict(zip(['red circle', 'blue heart'], best)))
    assert pred.picture.shape == (96, 96, 3)
    # a synonym is its own class for F-ViT; its boxes are labelled with their class
    pred = demo.predict(setup['image'], 'red circle;red disc, blue heart', 'fvit', TOWER, score_thr=0.0)
    names = det_reference(inferencer, setup['image'], ['red circle', 'red disc', 'blue heart'])
    np.testing.assert_array_equal(pred.boxes, names.bboxes.numpy())
    np.testing.assert_array_equal(pred.box_labels, np.array([0, 0, 1])[names.labels.numpy()])
    # one class is fine for a detector (it has a background class)
    assert set(demo.predict(setup['image'], 'red circle', 'fvit', TOWER, score_thr=0.0).box_labels.tolist()) == {0}


def test_rgb_arrays_and_files_give_the_same_prediction(setup):
    rgb = mmcv.imread(setup['image'], channel_order='rgb')
    demo = setup['demo']
    a = demo.predict(rgb, 'red circle, grass, sky', 'catseg', TOWER)
    b = demo.predict(setup['image'], 'red circle, grass, sky', 'catseg', TOWER)
    np.testing.assert_array_equal(a.labels, b.labels)
    np.testing.assert_array_equal(read_image(rgb), mmcv.imread(setup['image']))


@pytest.mark.parametrize('kind', [*SEG_KINDS, 'fvit'])
def test_affinity_of_a_point(setup, kind):
    demo = setup['demo']
    point = (70.0, 20.0)
    sim = demo.affinity(setup['image'], kind, TOWER, point)
    assert sim.shape == (96, 96) and sim.max() <= 1.0 + 1e-5 and sim.min() >= -1.0 - 1e-5
    # the clicked point's cell is most like itself: the peak lies within a cell of it (cells: 6 to 12 image px)
    y, x = np.unravel_index(sim.argmax(), sim.shape)
    assert abs(x - point[0]) <= 12 and abs(y - point[1]) <= 12 and sim.max() > 0.8
    picture = demo.affinity_picture(setup['image'], kind, TOWER, point)
    assert picture.shape == (96, 96, 3) and picture.dtype == np.uint8


def test_affinity_follows_the_readout(setup):
    demo = setup['demo']
    value = demo.affinity(setup['image'], 'training_free', TOWER, (30, 30), 'value (MaskCLIP)')
    naclip = demo.affinity(setup['image'], 'training_free', TOWER, (30, 30), 'NACLIP')
    assert not np.allclose(value, naclip, atol=1e-3)
    np.testing.assert_array_equal(value, demo.affinity(setup['image'], 'training_free', TOWER, (30, 30), 'value'))


def test_errors_are_sentences_in_the_page(setup, tmp_path):
    demo, image = setup['demo'], setup['image']
    for texts in ('', ' , ;', None):
        with pytest.raises(DemoError, match='The vocabulary is empty'):
            demo.predict(image, texts, 'training_free', TOWER)
    with pytest.raises(DemoError, match=r"more than once: \['grass'\]"):
        parse_classes('grass, sky;grass')
    for kind in SEG_KINDS:
        with pytest.raises(DemoError, match='at least two classes'):
            demo.predict(image, 'grass;lawn', kind, TOWER)
    notes = tmp_path / 'notes.png'
    notes.write_text('not pixels')
    with pytest.raises(DemoError, match='notes.png is not an image'):
        demo.predict(str(notes), 'grass, sky', 'training_free', TOWER)
    with pytest.raises(DemoError, match='No image'):
        demo.predict(None, 'grass, sky', 'training_free', TOWER)
    with pytest.raises(DemoError, match='outside the 96 x 96 image'):
        demo.affinity(image, 'training_free', TOWER, (96, 10))
    # the page's Run: the error as its status line, no picture, no exception
    overlay, legend, scores, status, affinity, state = demo.run(image, ' ', 'fvit', TOWER, None, 0.3)
    assert overlay is None and state is None and status.startswith('**Error:** The vocabulary is empty')
    assert demo.run(str(notes), 'grass, sky', 'catseg', TOWER, None, 0.3)[3] == (
        '**Error:** notes.png is not an image (OpenCV cannot decode it): upload a PNG, JPEG, BMP, TIFF or WebP file.')
    assert demo.select(None, (1, 1))[0] is None


def test_the_page_shows_small_pictures_larger_and_maps_clicks_back(setup):
    demo, texts = setup['demo'], 'red circle, grass, sky'
    assert (display_scale(96, 96), display_scale(100, 50), display_scale(500, 300)) == (4, 4, 1)
    overlay, legend, scores, status, affinity, state = demo.run(setup['image'], texts, 'catseg', TOWER, None, 0.3)
    pred = demo.predict(setup['image'], texts, 'catseg', TOWER)
    assert overlay.shape == (384, 384, 3) and state['scale'] == 4 and affinity is None
    np.testing.assert_array_equal(overlay, upscale(pred.picture, 4))
    assert scores == pred.scores and all(f'>{name}</span>' in legend for name in ('red circle', 'grass', 'sky'))
    assert status.startswith('Cat-Seg segmentation with random tiny CLIP: ')
    picture, status = demo.select(state, (4 * 70 + 3, 4 * 20 + 1))  # a pixel of the shown picture
    assert status == 'Affinity of the point (70, 20) with every other point.' and picture.shape == (384, 384, 3)


def test_a_model_that_fails_to_load_is_a_sentence(setup, tmp_path):
    fvit = setup['models']['fvit']
    broken = fvit.config.copy()
    broken.model.backbone.tower.checkpoint = str(tmp_path / 'missing_tower.pt')
    demo = WebDemo([DemoModel('fvit', 'no weights', fvit.config, str(tmp_path / 'missing.pth')),
                    DemoModel('fvit', 'no tower', broken, fvit.checkpoint)], device='cpu')
    with pytest.raises(DemoError, match=r'F-ViT detection with no weights failed to load: no checkpoint at .*missing'):
        demo.predict(setup['image'], 'grass, sky', 'fvit', 'no weights')
    status = demo.run(setup['image'], 'grass, sky', 'fvit', 'no tower', None, 0.3)[3]
    assert status.startswith('**Error:** The model F-ViT detection with no tower failed to load: ')
    assert 'missing_tower.pt' in status and 'Traceback' not in status
    with pytest.raises(DemoError, match="No F-ViT detection model with the tower 'other'"):
        demo.predict(setup['image'], 'grass, sky', 'fvit', 'other')


def test_the_page_is_built_and_its_upload_lets_non_images_through(setup, tmp_path):
    from gradio.data_classes import FileData
    page = setup['demo'].build_page(world_examples(setup['world']))
    blocks = {getattr(b, 'elem_id', None): b for b in page.blocks.values()}
    assert {'image', 'vocabulary', 'kind', 'tower', 'readout', 'score-thr', 'run', 'status', 'overlay', 'legend',
            'scores', 'affinity'} <= set(blocks)
    assert [value for _, value in blocks['kind'].choices] == ['fvit', 'training_free', 'catseg', 'c2s']
    notes = tmp_path / 'notes.jpg'
    notes.write_text('not pixels')
    assert blocks['image'].preprocess(FileData(path=str(notes), orig_name='notes.jpg')) == str(notes)
    assert blocks['image'].preprocess(FileData(path=setup['image'], orig_name='a.png')) == setup['image']
    assert not glob.glob(osp.join(REPO, 'mmdistill', '**', '*.pyi'), recursive=True)  # no stub written


def fake_main_job(root, world: str, clip: str, models: dict) -> str:
    """A main job's run folder: the tiny CLIP, a CLIPSelf tower (and an older one of another key, which the
    manifest no longer names), an F-ViT trained on it and a C2S student, with the run's manifest and config copies
    beside the checkpoints, as the main job lays them out."""
    towers, sections = load_main_job()
    work = root / 'quickstart'
    (work / 'towers').mkdir(parents=True)
    shutil.copy(clip, work / 'tiny_clip.pt')
    clipself = work / 'towers' / 'clipself_patches_synthetic_seed0_00112233445566aa.pt'
    old = work / 'towers' / 'clipself_patches_synthetic_seed0_99112233445566aa.pt'
    for path in (old, clipself):
        shutil.copy(clip, path)
    record_tower(str(work), 'clipself', 'CLIPSelf', 0, str(old), towers['clipself']['config'])
    record_tower(str(work), 'clipself', 'CLIPSelf', 0, str(clipself), towers['clipself']['config'])  # replaces it
    rows = {s.name: s.rows for s in sections}
    trained = dict(detection=('fvit', 'model.backbone.tower.checkpoint', str(clipself), 'CLIPSelf'),
                   zero_shot_students=('c2s', None, None, next(r.label for r in rows['zero_shot_students']
                                                                  if r.config is None)))
    for name, (kind, key, tower, label) in trained.items():
        run = work / name / 'seed0_0011223344556677'
        run.mkdir(parents=True)
        cfg = models[kind].config.copy()
        if key:
            cfg.merge_from_dict({key: tower})
        cfg.dump(str(run / osp.basename(cfg.filename)))
        shutil.copy(models[kind].checkpoint, run / 'iter_4.pth')
        record_model(str(work), name, 'row', label, 0, cfg.filename, str(run / 'iter_4.pth'))
    return str(work)


def test_the_main_job_catalogue(setup, tmp_path):
    towers, sections = load_main_job()
    work = fake_main_job(tmp_path, setup['world'], setup['clip'], setup['models'])
    models = quickstart_models(work, setup['world'])
    listed = {(m.kind, m.tower): m for m in models}
    tiny, clipself = towers['tiny_clip']['label'], towers['clipself']['label']
    assert [m.tower for m in models if m.kind == 'training_free'] == [tiny, clipself]
    assert listed['training_free', clipself].config.model.tower.checkpoint.endswith('seed0_00112233445566aa.pt')
    assert listed['fvit', clipself].checkpoint.endswith('iter_4.pth')
    c2s_row = next(r for s in sections if s.name == 'zero_shot_students' for r in s.rows
                   if r.config is None)
    assert ('c2s', c2s_row.label) in listed
    demo = WebDemo(models, device='cpu')
    pred = demo.predict(setup['image'], 'grass, sky', 'training_free', clipself, 'NACLIP')
    assert pred.labels.shape == (96, 96)


def test_missing_main_job_names_the_command(tmp_path, capsys):
    with pytest.raises(FileNotFoundError, match=QUICKSTART_COMMAND):
        quickstart_models(str(tmp_path / 'nothing'))
    tool = load_tool('demo/web_demo')
    with pytest.raises(SystemExit, match=f'web_demo: no models of the main job .*`{QUICKSTART_COMMAND}`'):
        tool.main(['--work-dir', str(tmp_path / 'nothing')])
    args = tool.parse_args(['--config', 'a.py', '--checkpoint', 'a.pth', '--config', 'b.py', '--port', '7000'])
    assert args.models == [['a.py', 'a.pth'], ['b.py', None]] and args.port == 7000 and args.host == '127.0.0.1'
    with pytest.raises(SystemExit):
        tool.parse_args(['--checkpoint', 'a.pth'])
    assert 'must follow the --config' in capsys.readouterr().err


def test_world_examples(setup):
    examples = world_examples(setup['world'])
    assert examples == sorted(glob.glob(osp.join(setup['world'], 'val2017', '*.png')))[:8] and len(examples) == 4
    assert torch.tensor(mmcv.imread(examples[0]).shape).tolist() == [96, 96, 3]


@pytest.mark.slow
def test_main_job_models_answer_within_a_second():
    """Every model of the main job's run folder (work_dirs/quickstart; the tiny CLIP's F-ViT is trained here if
    the main job has not) segments or detects a world val image in under a second on the machine's CPU
    threads, once loaded and with its vocabulary embedded (docs/benchmarks.md, web demo)."""
    from mmdistill.apis.quickstart import trained_model
    from mmdistill.apis.runs import QuickstartPaths, ensure_world, pretrained_tiny_clip
    paths = QuickstartPaths()
    ensure_world(paths, seed=0, force=False)
    pretrained_tiny_clip(paths, seed=0, force=False)
    towers, sections = load_main_job()
    detection = next(s for s in sections if s.name == 'detection')
    trained_model(detection, detection.rows[0], paths.tiny_clip, paths, 0, False)
    models = quickstart_models(paths.work_dir, paths.world)
    assert {'training_free', 'fvit'} <= {m.kind for m in models}
    demo = WebDemo(models, device='cpu')
    images = world_examples(paths.world, 5)
    texts = 'red circle, blue heart, yellow star, grass;lawn, sky, water, road'
    for model in models:
        demo.predict(images[0], texts, model.kind, model.tower)  # loads it and embeds the vocabulary
        seconds = [demo.predict(image, texts, model.kind, model.tower).seconds for image in images]
        assert sorted(seconds)[len(seconds) // 2] < 1.0, (model.kind, model.tower, seconds)


def test_real_scale_configs_on_the_command_line(tmp_path):
    """``--config`` / ``--checkpoint`` take any scale: the kind comes from the model's type."""
    expected = {'configs/fvit/fvit_eva02-b16_fpn_8xb8-3e_ov-coco-640.py': 'fvit',
                'configs/maskclip/maskclip_vit-b16-openai_voc21-336.py': 'training_free',
                'configs/catseg/catseg_vit-b16-openai_eval-ade150-640.py': 'catseg',
                'configs/c2s/c2s_segformer-mit-b4_8xb2-20k_voc15-5-512x512.py': 'c2s'}
    for config, kind in expected.items():
        model = config_model(osp.join(REPO, config), 'weights.pth')
        assert (model.kind, model.checkpoint) == (kind, 'weights.pth'), config
        assert model.tower == f'{osp.splitext(osp.basename(config))[0]} + weights.pth'
    stock = tmp_path / 'stock.py'
    stock.write_text("model = dict(type='EncoderDecoder')\n")
    with pytest.raises(DemoError, match="model type 'EncoderDecoder' is not one the demo runs"):
        config_model(str(stock))
    with pytest.raises(FileNotFoundError, match='config not found'):
        config_model(str(tmp_path / 'missing.py'))


def test_run_manifest_round_trip_and_replacement(tmp_path):
    work = str(tmp_path / 'run')
    os.makedirs(work)
    assert read_manifest(work) == dict(towers={}, refiners={}, models={})
    record_tower(work, 'atas', 'ATAS', 1, osp.join(work, 'towers', 'a.pt'), 'configs/atas/atas_synthetic.py')
    record_tower(work, 'silc', 'SILC', 0, osp.join(work, 'towers', 's.pt'), 'c.py', own_text=True)
    record_tower(work, 'atas', 'ATAS', 1, osp.join(work, 'towers', 'b.pt'), 'configs/atas/atas_synthetic.py')
    manifest = read_manifest(work)
    assert sorted(manifest['towers']) == ['atas_seed1', 'silc_seed0']
    assert manifest['towers']['atas_seed1']['checkpoint'] == osp.join(work, 'towers', 'b.pt')
    assert manifest['towers']['atas_seed1']['text_checkpoint'] is None
    assert manifest['towers']['silc_seed0']['text_checkpoint'] == osp.join(work, 'towers', 's.pt')
    # stored relative to the run folder: a moved folder keeps working
    moved = str(tmp_path / 'moved')
    shutil.move(work, moved)
    assert read_manifest(moved)['towers']['silc_seed0']['checkpoint'] == osp.join(moved, 'towers', 's.pt')
