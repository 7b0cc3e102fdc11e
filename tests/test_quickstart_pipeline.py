"""The quickstart's stages on a tiny world: pretraining lowers the loss, evaluation runs via tools/test.py."""
import json
import os
import os.path as osp
import subprocess
import sys

import pytest
import torch
from mmengine.config import Config

import mmdistill  # noqa: F401
from mmdistill.apis.quickstart import EVAL_CONFIG, Claim, Row, format_claim, format_table, load_main_job, tower_options
from mmdistill.apis.runs import (
    PRETRAIN_CONFIG,
    file_key,
    last_checkpoint,
    load_run_config,
    locked,
    resolved_config,
    train_from_config,
)
from mmdistill.clip import CLIPTower
from mmdistill.clip.export import save_checkpoint_atomic, strip_prefix
from mmdistill.datasets.synthetic import generate_world

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))


@pytest.fixture(scope='module')
def world(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('world'))
    generate_world(root, seed=3, num_train=96, num_val=12, workers=1, progress=False)
    return root


@pytest.fixture(scope='module')
def pretrained(world, tmp_path_factory):
    work_dir = str(tmp_path_factory.mktemp('pretrain'))
    runner = train_from_config(
        osp.join(REPO, PRETRAIN_CONFIG), work_dir, world, seed=0,
        **{'train_cfg.max_iters': 40, 'train_dataloader.batch_size': 24, 'train_dataloader.num_workers': 0,
           'train_dataloader.persistent_workers': False, 'default_hooks.logger.interval': 1,
           'default_hooks.checkpoint.interval': 40, 'param_scheduler.0.end': 5, 'param_scheduler.1.begin': 5,
           'param_scheduler.1.T_max': 35, 'param_scheduler.1.end': 40})
    losses = runner.message_hub.get_scalar('train/loss_image_text').data[0]
    path = save_checkpoint_atomic(strip_prefix(runner.model.state_dict(), 'clip.'), osp.join(work_dir, 'tiny.pt'))
    return path, list(losses), last_checkpoint(runner)


def test_short_pretraining_lowers_the_contrastive_loss(pretrained):
    _, losses, _ = pretrained
    assert len(losses) == 40
    first, last = sum(losses[:5]) / 5, sum(losses[-5:]) / 5
    assert last < first - 0.5, (first, last)


def test_checkpoint_holds_the_weight_average(pretrained):
    live = torch.load(pretrained[0], map_location='cpu')  # the trained weights themselves
    checkpoint = torch.load(pretrained[2], map_location='cpu', weights_only=False)
    averaged, source = checkpoint['state_dict'], checkpoint['ema_state_dict']
    # EMAHook puts the average under 'state_dict' (what the quickstart exports) ...
    assert sum(not torch.equal(averaged['clip.' + k], v) for k, v in live.items() if v.is_floating_point()) > 10
    for key, value in live.items():  # ... and the trained weights under 'ema_state_dict'
        torch.testing.assert_close(source['module.clip.' + key], value)


def test_exported_checkpoint_builds_a_tower(pretrained):
    tower = CLIPTower('mmdistill-world-ViT-P12', checkpoint=pretrained[0], trainable='none')
    out = tower(torch.randn(1, 3, 96, 96), cls=True)
    assert out.cls.shape == (1, 128) and out.dense.shape == (1, 128, 8, 8)


def test_evaluation_config_runs_through_tools_test(pretrained, world, tmp_path):
    ckpt = pretrained[0]
    env = dict(os.environ, MMDISTILL_OFFLINE='1')
    cmd = [sys.executable, osp.join(REPO, 'tools/test.py'), osp.join(REPO, EVAL_CONFIG), '--work-dir', str(tmp_path),
           '--cfg-options', f'model.tower.checkpoint={ckpt}', f'model.vocabulary.text.checkpoint={ckpt}',
           f'test_dataloader.dataset.data_root={world}', 'test_dataloader.num_workers=0',
           f'test_evaluator.out_file={tmp_path}/per_class.json']
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith('metrics: ')][-1]
    metrics = json.loads(line[len('metrics: '):])
    for kind in ('boxes', 'masks'):
        for group in ('thing', 'stuff'):
            assert 0.0 <= metrics[f'dense_zs/{kind}/{group}_top1'] <= metrics[f'dense_zs/{kind}/{group}_top5'] <= 100
    assert 'dense_zs/crops/thing_top1' in metrics
    per_class = json.load(open(tmp_path / 'per_class.json'))
    assert len(per_class['classes']) == 32 and per_class['num_things'] == 24
    section = [s for s in load_main_job()[1] if s.name == 'dense_zero_shot'][0]
    section.rows = [Row('tiny', 'tiny_clip', metrics=metrics)]
    table = format_table(section)
    top1, top5 = metrics['dense_zs/boxes/thing_top1'], metrics['dense_zs/boxes/thing_top5']
    assert table.count('\n') == 2 and f'| tiny | {top1:.1f} / {top5:.1f} |' in table


def test_main_job_config_names_known_towers_and_splits_default_rows(tmp_path):
    towers, sections = load_main_job()
    assert [s.name for s in sections] == ['dense_zero_shot', 'detection', 'segmentation', 'catseg',
                                          'zero_shot_students']
    for section in sections:
        assert {r.tower for r in section.rows} <= set(towers)
        assert osp.isfile(osp.join(REPO, section.config))
        assert all(osp.isfile(osp.join(REPO, r.config)) for r in section.rows if r.config)
    students = sections[4]
    assert students.tower_key is None and students.train and all(r.default for r in students.rows)
    assert [r.config is None for r in students.rows] == [False, True]  # seen only: its own config; C2S: the section's
    detection = sections[1]
    assert [r.tower for r in detection.rows if r.default] == ['tiny_clip', 'clipself'] and detection.train
    # every paper's method and every consumer by default
    default = {s.name: [r.tower for r in s.rows if r.default] for s in sections}
    papers = {'tiny_clip', 'clipself', 'r_sc_clipself', 'atas', 'silc'}
    assert papers <= set(default['dense_zero_shot'])
    assert default['catseg'] == ['r_sc_clipself'] and len(default['zero_shot_students']) == 2
    # each claim compares two default rows
    for section in sections:
        labels = {r.label for r in section.rows if r.default}
        assert all({c.row, c.baseline} <= labels for c in section.claims), section.name
    assert sum(len(s.claims) for s in sections) >= 8
    for section in sections:  # one sentence under each table says what it shows
        assert section.shows and section.shows.endswith('.') and '. ' not in section.shows, section.name
    # the second lane's rows need only the tiny CLIP (no other tower of this run)
    assert {r.tower for s in sections for r in s.rows if r.lane == 1} == {'tiny_clip', 'atas', 'silc'}
    assert all(towers[t].get('config') is None or not towers[t].get('refiner') for t in ('atas', 'silc'))
    bad = tmp_path / 'job.py'
    bad.write_text("towers = dict(a=dict(label='A'))\nsections = [dict(name='s', title='t', config='c', "
                   "tower_key='k', columns=[], rows=[dict(tower='b')])]\n")
    with pytest.raises(KeyError, match="names tower 'b'"):
        load_main_job(str(bad))
    bad.write_text("towers = dict(a=dict(label='A'))\nsections = [dict(name='s', title='t', config='c', "
                   "tower_key='k', columns=[], rows=[dict(tower='a')], claims=[dict(text='x', row='A', "
                   "baseline='B', metric='m', margin=1.0)])]\n")
    with pytest.raises(KeyError, match=r"claim of section 's' names rows \['B'\]"):
        load_main_job(str(bad))


def test_claims_say_whether_they_hold():
    claim = Claim(text='it learns', row='new', baseline='old', metric='coco/novel_ap50', margin=6.0, scale=100)
    rows = {'new': Row('new', 'b', metrics={'coco/novel_ap50': 0.163}),
            'old': Row('old', 'a', metrics={'coco/novel_ap50': 0.042})}
    result = claim.check(rows)
    assert result['holds'] and abs(result['value'] - 16.3) < 1e-9 and abs(result['baseline_value'] - 4.2) < 1e-9
    assert format_claim(result) == '- it learns: new 16.3 vs old 4.2 (+12.1, needs +6.0): holds'
    rows['old'].metrics['coco/novel_ap50'] = 0.12
    assert not claim.check(rows)['holds'] and format_claim(claim.check(rows)).endswith('DOES NOT HOLD')
    assert claim.check({'new': rows['new']}) is None  # a row that did not run: no verdict


def test_a_tower_with_its_own_text_tower_classifies_with_it(tmp_path):
    job = tmp_path / 'job.py'
    job.write_text(
        "towers = dict(a=dict(label='A'), b=dict(label='B', config='b.py', text_prefix='text_tower.clip.'))\n"
        "sections = [dict(name='s', title='t', config='c', tower_key='model.tower.checkpoint', "
        "text_key='model.text.checkpoint', columns=[], rows=[dict(tower='a'), dict(tower='b')]),\n"
        "            dict(name='u', title='t', config='c', tower_key='k', columns=[], rows=[dict(tower='b')])]\n")
    _, (section, no_text_key) = load_main_job(str(job))
    plain, own = section.rows
    assert not plain.own_text and own.own_text
    assert tower_options(section, plain, 'a.pt') == {'model.tower.checkpoint': 'a.pt'}
    assert tower_options(section, own, 'b.pt') == {'model.tower.checkpoint': 'b.pt', 'model.text.checkpoint': 'b.pt'}
    with pytest.raises(KeyError, match="section 'u'.*text_key"):
        tower_options(no_text_key, no_text_key.rows[0], 'b.pt')


def test_run_files_replace_the_configs_defaults_only_while_they_load(monkeypatch):
    monkeypatch.delenv('MMDISTILL_WORLD', raising=False)
    config = osp.join(REPO, 'configs', 'scd', 'r_sc_clipself_synthetic.py')
    default = Config.fromfile(config)
    assert default.train_dataloader.dataset.data_root == 'data/synthetic_world/'
    assert default.model.teachers.refined.checkpoint == 'work_dirs/quickstart/refiner/iter_200.pth'
    cfg = load_run_config(config, '/tmp/run', '/tmp/w/', tiny_clip='/tmp/t.pt', refiner='/tmp/r.pth')
    assert cfg.train_dataloader.dataset.data_root == '/tmp/w/'
    assert cfg.model.student.checkpoint == '/tmp/t.pt' and cfg.model.teachers.refined.checkpoint == '/tmp/r.pth'
    assert cfg.work_dir == '/tmp/run' and 'MMDISTILL_WORLD' not in os.environ  # the environment is restored
    assert load_run_config(config, '/tmp/run', 'data/synthetic_world').model.student.checkpoint == \
        'work_dirs/quickstart/tiny_clip.pt'


def test_cache_keys_follow_base_files(tmp_path):
    base = tmp_path / 'base.py'
    child = tmp_path / 'child.py'
    base.write_text('lr = 0.1\n')
    child.write_text("_base_ = ['./base.py']\nsteps = 3\n")
    first = file_key(resolved_config(str(child)))
    base.write_text('lr = 0.2\n')  # the child file itself is unchanged
    assert file_key(resolved_config(str(child))) != first
    base.write_text('lr = 0.1\n')
    assert file_key(resolved_config(str(child))) == first


def test_cache_keys_follow_architecture_definitions(tmp_path, monkeypatch):
    from mmdistill.apis import runs
    archs = tmp_path / 'archs'
    archs.mkdir()
    (archs / 'my-arch.json').write_text('{"embed_dim": 8}')
    config = tmp_path / 'config.py'
    config.write_text("model = dict(tower=dict(arch='my-arch'), names=['my-arch-not'])\n")
    monkeypatch.setattr(runs, 'MODEL_CONFIG_DIR', archs)
    first = resolved_config(str(config))
    assert json.loads(first)['architectures'] == {'my-arch': '{"embed_dim": 8}'}
    (archs / 'my-arch.json').write_text('{"embed_dim": 16}')  # the config file is unchanged
    assert resolved_config(str(config)) != first


def test_patch_dropout_thins_training_images_only():
    from mmdistill.distill import CLIPPretrainer
    torch.manual_seed(0)
    model = CLIPPretrainer('mmdistill-tiny-ViT-P8', patch_dropout=0.5)
    lengths = []
    model.clip.visual.transformer.register_forward_pre_hook(lambda _, args: lengths.append(args[0].shape[1]))
    images = torch.randn(3, 3, 32, 32)  # 4 x 4 patches + the class token
    model.train()
    train_emb = model.clip.encode_image(images)
    model.eval()
    with torch.no_grad():
        full = model.clip.encode_image(images)
    assert lengths == [1 + 8, 1 + 16]
    assert train_emb.shape == full.shape == (3, 32)
    with pytest.raises(ValueError, match='has no patch dropout'):
        CLIPPretrainer('mmdistill-tiny-EVA-P8', patch_dropout=0.5)


def test_unknown_picture_is_an_error_naming_it(tmp_path):
    from mmdistill.apis.quickstart import Section, draw_picture
    from mmdistill.apis.runs import QuickstartPaths
    section = Section(name='s', title='t', config='c.py', tower_key='k', columns=[], rows=[], picture='bogus')
    with pytest.raises(ValueError, match="unknown picture 'bogus'"):
        draw_picture(section, QuickstartPaths(work_dir=str(tmp_path)))


def _compute_once(path: str, log: str) -> None:
    """What every cache entry of the main job does: under its lock, compute the entry if it is missing."""
    import time as time_
    with locked(path):
        if not osp.isfile(path):
            with open(log, 'a') as f:
                f.write('computed\n')
            time_.sleep(0.5)  # the other process arrives while this one computes
            with open(path, 'w') as f:
                f.write('done')


def _record_towers(work: str, first: int) -> None:
    from mmdistill.utils.run_manifest import record_tower
    for i in range(first, first + 10):
        record_tower(work, f't{i}', f'T{i}', 0, osp.join(work, f't{i}.pt'), 'c.py')


def test_two_processes_share_cache_entries_and_the_manifest(tmp_path):
    """Two test lanes (or two main jobs) on one run folder compute each entry once and lose no manifest entry."""
    import multiprocessing as mp

    from mmdistill.utils.run_manifest import read_manifest
    ctx = mp.get_context('spawn')
    path, log = str(tmp_path / 'entry.json'), str(tmp_path / 'log.txt')
    processes = [ctx.Process(target=_compute_once, args=(path, log)) for _ in range(2)]
    processes += [ctx.Process(target=_record_towers, args=(str(tmp_path / 'run'), first)) for first in (0, 10)]
    for p in processes:
        p.start()
    for p in processes:
        p.join(60)
        assert p.exitcode == 0
    assert open(log).read() == 'computed\n' and open(path).read() == 'done'
    assert sorted(read_manifest(str(tmp_path / 'run'))['towers']) == sorted(f't{i}_seed0' for i in range(20))


def test_stage_table_groups_steps_by_kind():
    import importlib.util
    spec = importlib.util.spec_from_file_location('bmj', osp.join(REPO, 'tools', 'analysis', 'benchmark_main_job.py'))
    bmj = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bmj)
    steps = [('world', 45.0), ('tiny_clip_pretrain', 430.0), ('refiner_seed0', 60.0),
             ('tower.atas_synthetic_seed0', 80.0), ('tower.clipself_patches_synthetic_seed0', 90.0),
             ('detection.train.clipself_seed0', 200.0), ('detection.test.clipself', 30.0), ('detection.picture', 5.0)]
    table = bmj.stage_table(steps, wall=1000.0, second_lane=[('tower.silc_finetune_synthetic_seed0', 40.0)])
    assert '| tower.silc_finetune_synthetic_seed0 (second lane) | 40 |' in table
    assert '| **tower distillation** (sum) | **210** |' in table
    assert '| **downstream training** (sum) | **200** |' in table and '| **pictures** (sum) | **5** |' in table
    assert '| **whole job, wall time** | **1000** (16.7 min) |' in table
    assert table.count('\n') == 1 + len(steps) + 1 + 7 + 1


def test_pictures_and_preparation_steps_are_registered():
    from mmdistill.apis.quickstart import main_job_step, prepare_section
    from mmdistill.registry import MAIN_JOB_STEPS
    _, sections = load_main_job()
    for section in sections:  # every step the main job names is registered as its kind
        if section.picture:
            assert main_job_step(section.picture, 'picture') is MAIN_JOB_STEPS.get(section.picture)
        if section.prepare:
            assert main_job_step(section.prepare, 'prepare') is MAIN_JOB_STEPS.get(section.prepare)
    with pytest.raises(ValueError, match=r"unknown prepare 'detections'; registered: \['ov_world'\]"):
        main_job_step('detections', 'prepare')  # a picture is not a preparation step
    from mmdistill.apis.quickstart import Section
    from mmdistill.apis.runs import QuickstartPaths
    bad = Section(name='s', title='t', config='c.py', tower_key='k', columns=[], rows=[], prepare='nowhere')
    with pytest.raises(ValueError, match="section 's': unknown prepare 'nowhere'"):
        prepare_section(bad, QuickstartPaths())


def test_loading_a_run_config_prints_nothing(capsys):
    """The main job's terminal shows no mmengine note for each substituted run variable."""
    load_run_config(osp.join(REPO, 'configs', 'scd', 'r_sc_clipself_synthetic.py'), '/tmp/run', '/tmp/w',
                    tiny_clip='/tmp/t.pt', refiner='/tmp/r.pth')
    out = capsys.readouterr()
    assert 'Using env variable' not in out.out + out.err


TOY_STEPS = '''
import os.path as osp
from mmdistill.apis.quickstart import registered_step


@registered_step('prepare', 'toy_prepare')
def toy_prepare(paths):
    with open(osp.join(paths.work_dir, 'prepared.txt'), 'a') as f:
        f.write('prepared\\n')


@registered_step('picture', 'toy_picture')
def toy_picture(section, paths):
    path = osp.join(paths.work_dir, 'toy.txt')
    with open(path, 'w') as f:
        f.write(' '.join(row.label for row in section.rows))
    return path
'''


def _run_toy_job(world: str, tiny: str, tmp_path, monkeypatch, lane_finds_steps: bool):
    """The toy main job (a section, preparation step and picture registered by its own module, one row per lane)
    with two torch threads; ``(tables, pictures, terminal text, paths)``."""
    from mmdistill.apis.console import MainJobConsole
    from mmdistill.apis.quickstart import run_quickstart
    from mmdistill.apis.runs import QuickstartPaths, tiny_clip_key
    (tmp_path / 'toy_steps.py').write_text(TOY_STEPS)
    monkeypatch.syspath_prepend(str(tmp_path))
    if lane_finds_steps:  # the second lane imports the job's custom_imports too
        monkeypatch.setenv('PYTHONPATH', os.pathsep.join([str(tmp_path), REPO, os.environ.get('PYTHONPATH', '')]))
    job = tmp_path / 'toy_job.py'
    job.write_text(f'''custom_imports = dict(imports=['toy_steps'])
towers = dict(tiny_clip=dict(label='tiny CLIP'))
sections = [dict(name='toy', title='Toy', config={osp.join(REPO, EVAL_CONFIG)!r},
                 tower_key='model.tower.checkpoint', prepare='toy_prepare', picture='toy_picture',
                 columns=[('boxes', ['dense_zs/boxes/thing_top1'])],
                 rows=[dict(tower='tiny_clip', label='main row'),
                       dict(tower='tiny_clip', label='lane row', lane=1,
                            test_options={{'test_dataloader.dataset.indices': 6}})])]
''')
    paths = QuickstartPaths(world=world, work_dir=str(tmp_path / 'run'))
    os.makedirs(paths.work_dir)
    open(paths.tiny_clip, 'wb').write(open(tiny, 'rb').read())  # the run's tiny CLIP exists: stage 2 is cached
    open(paths.tiny_clip + '.key', 'w').write(tiny_clip_key(paths, seed=3))
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    terminal = tmp_path / 'terminal.txt'
    try:
        with open(terminal, 'w') as stream:
            text, pictures = run_quickstart(paths, seed=3, main_job=str(job),
                                            console=MainJobConsole(osp.join(paths.work_dir, 'logs'), stream))
    finally:
        torch.set_num_threads(threads)
    return text, pictures, terminal.read_text(), paths


def test_a_toy_section_runs_with_its_own_steps_and_the_second_lane(world, pretrained, tmp_path, monkeypatch):
    """A main job naming a section, preparation step and picture that its own module registers (mmengine's
    custom_imports) runs with no edit of the driver; the row marked lane=1 is computed by the second lane."""
    text, pictures, shown, paths = _run_toy_job(world, pretrained[0], tmp_path, monkeypatch, lane_finds_steps=True)
    assert open(osp.join(paths.work_dir, 'prepared.txt')).read().count('prepared') >= 1
    assert pictures == [osp.join(paths.work_dir, 'toy.txt')] and open(pictures[0]).read() == 'main row lane row'
    assert '| main row |' in text and '| lane row |' in text
    assert 'second lane: the 1 rows marked lane=1 run in a second process' in shown
    assert 'lane row: second lane: tested' in shown, shown
    lane = json.load(open(osp.join(paths.work_dir, 'second_lane.json')))
    assert list(lane['rows']) == ['toy|lane row|0']
    assert [name for name, _ in lane['timings']] == ['toy.prepare', 'toy.test.lane_row']  # the lane prepares too
    times = json.load(open(paths.stage_times))
    assert [name for name, _ in times['steps']] == ['toy.prepare', 'toy.test.main_row', 'toy.picture']
    assert times['second_lane'] == lane['timings']


def test_the_rows_of_a_failed_second_lane_run_in_the_main_process(world, pretrained, tmp_path, monkeypatch):
    """A lane that cannot start its work (here: it cannot import the job's steps) leaves its rows to the main
    process, which says so; the tables are complete."""
    text, _, shown, paths = _run_toy_job(world, pretrained[0], tmp_path, monkeypatch, lane_finds_steps=False)
    assert '| main row |' in text and '| lane row |' in text
    assert 'lane row: tested' in shown and 'the second lane stopped with an error' in shown, shown
    assert "No module named 'toy_steps'" in open(osp.join(paths.work_dir, 'logs', 'second_lane.log')).read()
    times = json.load(open(paths.stage_times))
    assert [name for name, _ in times['steps']] == ['toy.prepare', 'toy.test.main_row', 'toy.test.lane_row',
                                                    'toy.picture']


def test_a_run_without_second_lane_drops_an_earlier_runs_lane_record(tmp_path):
    """With one thread (or --force) no lane starts, and the record of an earlier run's lane is gone: its rows and
    step times are not read as this run's."""
    from mmdistill.apis.console import MainJobConsole
    from mmdistill.apis.quickstart import SecondLane
    from mmdistill.apis.runs import QuickstartPaths
    paths = QuickstartPaths(world=str(tmp_path / 'w'), work_dir=str(tmp_path))
    with open(tmp_path / 'log.txt', 'w') as stream:
        lane = SecondLane(paths, MainJobConsole(str(tmp_path / 'logs'), stream))
        (tmp_path / 'second_lane.json').write_text(json.dumps(dict(rows={'s|r|0': [['tested', 3.0]]},
                                                                   timings=[['s.test.r', 3.0]])))
        assert lane.read()['timings'] == [['s.test.r', 3.0]]
        assert lane.start('configs/quickstart/main_job.py', [0], False, rows=0) is False
        assert lane.read() == {} and lane.stop() is None and lane.process is None
