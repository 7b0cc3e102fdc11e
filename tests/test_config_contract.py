"""Contract: every shipped config builds, trains one step, validates and tests on generated data in its layout.

Each config under ``configs/`` (and ``projects/*/configs/``), except ``_base_`` fragments and the main job's
listing, goes through ``tools/misc/check_config.py``'s check, shrunk (``mmdistill.apis.config_check``):
random weights, 2 generated images per split in the dataset class's own layout, image sizes above 224 px
divided by 4, 64-wide text towers, batches of at most 2. The test fails if the model cannot be built, a
training step, the validation or the test raises, or a logged loss is not finite. All generated data sets
share one folder for the session (a data root is written once).

Timings (AMD EPYC with AVX-512, 2 cores shared with other jobs: load average about 10 during the run, so
numbers on an idle machine are lower): the 31 configs that each took under 14 s form the fast set, 238 s in
all (synthetic-world configs, the training-free zero-shot configs, CLIPSelf and the dense zero-shot
evaluation); the other 70 are marked slow (``SLOW``; CI runs them with ``-m slow``), about 78 min in all: the
slowest are C2S on SegFormer-B4 (30-190 s each, the NEL loss over 156-171 classes at full label size), the
RPN and the EVA02-L / DINOv2 distillation configs (120-160 s) and Cat-Seg (about 60-120 s). Per-config
timings: docs/config_check.md.
"""
import glob
import os
import os.path as osp

import pytest

from mmdistill.apis.config_check import (
    ConfigCheckError,
    check_config,
    prepare_config,
    shrink_size,
    val_repeated_by_test,
)

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIGS = sorted(p for pattern in ('configs/**/*.py', 'projects/*/configs/**/*.py')
                 for p in glob.glob(osp.join(REPO, pattern), recursive=True)
                 if '_base_' not in p.split(osp.sep) and not p.endswith('main_job.py'))
SLOW = {  # 14 s or more each (module doc)
    'configs/atas/atas_eva02_b16_coco.py',
    'configs/atas/atas_vitb16_openai_coco.py',
    'configs/atas/atas_vitb16_openai_image-folder.py',
    'configs/c2s/ablations/c2s-cls-mlp_segformer-mit-b4_8xb2-40k_coco-stuff156-15-512x512.py',
    'configs/c2s/ablations/c2s-cls-no-calibrator_segformer-mit-b0_1xb16-1k_synthetic-96.py',
    'configs/c2s/ablations/c2s-cls-no-calibrator_segformer-mit-b4_8xb2-40k_coco-stuff156-15-512x512.py',
    'configs/c2s/ablations/c2s-cosine-distill_segformer-mit-b4_8xb2-40k_coco-stuff156-15-512x512.py',
    'configs/c2s/ablations/c2s-froster-distill_segformer-mit-b4_8xb2-40k_coco-stuff156-15-512x512.py',
    'configs/c2s/ablations/c2s-global-only_segformer-mit-b0_1xb16-1k_synthetic-96.py',
    'configs/c2s/ablations/c2s-keys-global_segformer-mit-b4_8xb2-40k_coco-stuff156-15-512x512.py',
    'configs/c2s/ablations/c2s-keys-local_segformer-mit-b4_8xb2-40k_coco-stuff156-15-512x512.py',
    'configs/c2s/ablations/c2s-l2-distill_segformer-mit-b4_8xb2-40k_coco-stuff156-15-512x512.py',
    'configs/c2s/ablations/c2s-local-only_segformer-mit-b0_1xb16-1k_synthetic-96.py',
    'configs/c2s/ablations/c2s-no-latent-embedding_segformer-mit-b0_1xb16-1k_synthetic-96.py',
    'configs/c2s/ablations/c2s-no-latent-embedding_segformer-mit-b4_8xb2-40k_coco-stuff156-15-512x512.py',
    'configs/c2s/ablations/c2s-prototypes-mlp_segformer-mit-b0_1xb16-1k_synthetic-96.py',
    'configs/c2s/ablations/c2s-prototypes-mlp_segformer-mit-b4_8xb2-40k_coco-stuff156-15-512x512.py',
    'configs/c2s/ablations/c2s-prototypes-no-calibrator_segformer-mit-b4_8xb2-40k_coco-stuff156-15-512x512.py',
    'configs/c2s/ablations/c2s_segformer-mit-b4_8xb2-40k_coco-stuff156-15-512x512.py',
    'configs/c2s/ablations/seen-only_segformer-mit-b4_8xb2-40k_coco-stuff156-15-512x512.py',
    'configs/c2s/c2s_segformer-mit-b0_1xb16-1k_synthetic-96.py',
    'configs/c2s/c2s_segformer-mit-b0_1xb16-300_synthetic-96.py',
    'configs/c2s/c2s_segformer-mit-b4_8xb2-20k_voc15-5-512x512.py',
    'configs/c2s/c2s_segformer-mit-b4_8xb2-40k_context49-10-512x512.py',
    'configs/c2s/c2s_segformer-mit-b4_8xb2-80k_coco-stuff156-15-512x512.py',
    'configs/c2s/c2s_segnext-mscan-b_8xb2-20k_voc15-5-512x512.py',
    'configs/c2s/c2s_setr-vit-b-mla_8xb2-20k_voc15-5-512x512.py',
    'configs/c2s/c2s_setr-vit-b-mla_8xb2-40k_context49-10-512x512.py',
    'configs/c2s/c2s_setr-vit-b-mla_8xb2-80k_coco-stuff156-15-512x512.py',
    'configs/catseg/catseg-vanilla_vit-b16-openai_1xb4-80k_ade150-384.py',
    'configs/catseg/catseg_tinyclip-p12_1xb4-400_synthetic-96.py',
    'configs/catseg/catseg_vit-b16-openai_1xb4-80k_ade150-384.py',
    'configs/catseg/catseg_vit-b16-openai_1xb4-80k_coco-stuff171-384.py',
    'configs/catseg/catseg_vit-b16-openai_eval-ade150-640.py',
    'configs/catseg/catseg_vit-b16-openai_eval-ade847-640.py',
    'configs/catseg/catseg_vit-b16-openai_eval-context459-640.py',
    'configs/catseg/catseg_vit-b16-openai_eval-context59-640.py',
    'configs/catseg/catseg_vit-b16-openai_eval-context59-synonyms-640.py',
    'configs/catseg/catseg_vit-b16-openai_eval-voc20-640.py',
    'configs/fvit/fvit_eva02-b16_fpn_8xb8-3e_ov-coco-640.py',
    'configs/fvit/fvit_eva02-b16_fpn_8xb8-48e_ov-lvis-1024.py',
    'configs/fvit/fvit_eva02-l14_fpn_8xb8-3e_ov-coco-896.py',
    'configs/fvit/fvit_eva02-l14_fpn_8xb8-48e_ov-lvis-896.py',
    'configs/fvit/fvit_tinyclip-p12_fpn_1xb8-250it_ov-synthetic.py',
    'configs/fvit/fvit_vitb16-openai_fpn_8xb8-3e_ov-coco-640.py',
    'configs/maskclip/maskclip_tinyclip-p12_synthetic-192.py',
    'configs/maskclip/maskclip_vit-b16-openai_voc21-336.py',
    'configs/quickstart/tiny_clip_pretrain_synthetic.py',
    'configs/refiner/refiner_eva02_b16_coco.py',
    'configs/regiontext/r_sc_regiontext_eva02_b16_coco.py',
    'configs/regiontext/regiontext_eva02_b16_coco.py',
    'configs/regiontext/regiontext_synthetic.py',
    'configs/rpn/rpn_r50_fpn_1x_coco_base.py',
    'configs/scd/r_sc_clipself_eva02_b16_coco.py',
    'configs/scd/r_sc_clipself_eva02_l14_coco.py',
    'configs/scd/r_sc_clipself_synthetic.py',
    'configs/scd/r_sc_clipself_vitb16_openai_coco.py',
    'configs/scd/r_sc_v_dinov2_vitb14_coco.py',
    'configs/scd/r_sc_v_eva02_b16_coco.py',
    'configs/scd/r_sc_v_synthetic.py',
    'configs/scd/sc_clipself_eva02_b16_coco.py',
    'configs/silc/silc-whole-image_pretrain_synthetic.py',
    'configs/silc/silc_eva02_b16_coco_captions.py',
    'configs/silc/silc_finetune_photometric-colour-kept_synthetic.py',
    'configs/silc/silc_finetune_photometric_synthetic.py',
    'configs/silc/silc_finetune_synthetic.py',
    'configs/silc/silc_siglip_finetune_synthetic.py',
    'configs/zero_shot_seg/towers/zeroshot_vit-b16-dfn_voc21-336.py',
    'configs/zero_shot_seg/zeroshot_naclip-pamr_vit-b16-openai_voc21-336.py',
    'configs/zero_shot_seg/zeroshot_vit-b16-openai_ade847-336.py',
    'configs/zero_shot_seg/zeroshot_vit-b16-openai_context459-336.py',
}


def rel(path: str) -> str:
    return osp.relpath(path, REPO)


def shard(configs: list[str]) -> list[str]:
    """The configs of this run's shard: ``MMDISTILL_CONTRACT_SHARD=i/n`` keeps every n-th config from the i-th
    (`.ci/run` gives its two test lanes one half each); unset, all."""
    spec = os.environ.get('MMDISTILL_CONTRACT_SHARD')
    if not spec:
        return configs
    try:
        index, count = (int(v) for v in spec.split('/'))
    except ValueError:
        raise ValueError(f'MMDISTILL_CONTRACT_SHARD={spec!r}: expected "i/n", e.g. "0/2"') from None
    return configs[index::count]


@pytest.fixture(scope='module')
def data_dir(tmp_path_factory) -> str:
    return str(tmp_path_factory.mktemp('check_data'))


@pytest.mark.parametrize('path', [pytest.param(p, id=rel(p), marks=[pytest.mark.slow] if rel(p) in SLOW else [])
                                  for p in shard(CONFIGS)])
def test_config_runs(path, data_dir, tmp_path):
    lines = []
    report = check_config(path, work_dir=str(tmp_path), data_dir=data_dir, log=lines.append, repeat_val_as_test=False)
    assert report.ok, '\n'.join(lines) + '\n' + report.traceback
    ran = {s.name for s in report.steps if s.status == 'ok'}
    assert {'config', 'build'} <= ran and ran & {'train', 'val', 'test'}, lines
    if 'train' in ran:
        assert report.losses and 'loss' in ''.join(report.losses), report.losses


def test_every_config_is_collected():
    names = {rel(p) for p in CONFIGS}
    assert len(names) > 100 and 'configs/fvit/fvit_eva02-b16_fpn_8xb8-3e_ov-coco-640.py' in names
    assert not SLOW - names, f'slow configs that do not exist: {sorted(SLOW - names)}'


def test_a_test_loop_like_the_validation_is_recognised():
    from mmengine.config import Config
    loader = dict(batch_size=1, dataset=dict(type='PascalVOCDataset', ann_file='val.txt'))
    cfg = Config(dict(val_dataloader=loader, test_dataloader=dict(loader), val_evaluator=dict(type='IoUMetric'),
                      test_evaluator=dict(type='IoUMetric')))
    assert val_repeated_by_test(cfg)
    cfg.test_dataloader.dataset.ann_file = 'test.txt'
    assert not val_repeated_by_test(cfg)
    cfg.test_dataloader.dataset.ann_file = 'val.txt'
    cfg.test_evaluator = dict(type='IoUMetric', iou_metrics=['mDice'])
    assert not val_repeated_by_test(cfg)


def test_shrink_size():
    assert shrink_size(1024) == 256 and shrink_size(640) == 224 and shrink_size(96) == 96
    assert shrink_size((2048, 512)) == (512, 224) and shrink_size([0.5, 2.0]) == [0.5, 2.0]


FVIT = osp.join(REPO, 'configs/fvit/fvit_eva02-b16_fpn_8xb8-3e_ov-coco-640.py')


def test_missing_checkpoint_names_key_and_file(tmp_path):
    with pytest.raises(ConfigCheckError) as err:
        prepare_config(FVIT, str(tmp_path), random_weights=False)
    message = str(err.value)
    assert 'model.backbone.tower.checkpoint' in message and 'checkpoints/EVA02_CLIP_B_psz16_s8B.pt' in message


def test_wrong_data_root_names_key_and_folder(tmp_path):
    wrong = tmp_path / 'no_such_data'
    with pytest.raises(ConfigCheckError) as err:
        prepare_config(FVIT, str(tmp_path), data_root=str(wrong))
    message = str(err.value)
    assert 'train_dataloader.dataset.data_root' in message and str(wrong / 'coco') in message


def test_tool_prints_the_failure_last(tmp_path, capsys):
    from importlib.util import module_from_spec, spec_from_file_location
    spec = spec_from_file_location('check_config_tool', osp.join(REPO, 'tools/misc/check_config.py'))
    tool = module_from_spec(spec)
    spec.loader.exec_module(tool)
    status = tool.main([FVIT, '--no-random-weights', '--work-dir', str(tmp_path)])
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert status == 1
    assert last.startswith('failed at config: ConfigCheckError: model.backbone.tower.checkpoint')
    assert 'EVA02_CLIP_B_psz16_s8B.pt' in last


def test_the_two_ci_shards_split_the_configs_without_overlap(monkeypatch):
    configs = [f'c{i}.py' for i in range(7)]
    assert shard(configs) == configs
    halves = []
    for spec in ('0/2', '1/2'):
        monkeypatch.setenv('MMDISTILL_CONTRACT_SHARD', spec)
        halves.append(shard(configs))
    assert halves == [['c0.py', 'c2.py', 'c4.py', 'c6.py'], ['c1.py', 'c3.py', 'c5.py']]
    monkeypatch.setenv('MMDISTILL_CONTRACT_SHARD', 'half')
    with pytest.raises(ValueError, match="MMDISTILL_CONTRACT_SHARD='half': expected"):
        shard(configs)


def test_tool_applies_cfg_options_after_its_own_changes(tmp_path, capsys):
    """--cfg-options reach the checked run (after the check's shrinking), and the check lists them."""
    from importlib.util import module_from_spec, spec_from_file_location
    spec = spec_from_file_location('check_config_tool', osp.join(REPO, 'tools/misc/check_config.py'))
    tool = module_from_spec(spec)
    spec.loader.exec_module(tool)
    status = tool.main([FVIT, '--work-dir', str(tmp_path),
                        '--cfg-options', 'model.roi_head.bbox_head.vocabulary.templates=["{}"]'])
    out = capsys.readouterr().out
    assert "options: model.roi_head.bbox_head.vocabulary.templates=['{}']" in out
    assert status == 0 and out.strip().splitlines()[-1] == 'ok'
    from mmdistill.apis.config_check import prepare_config
    cfg, _ = prepare_config(FVIT, str(tmp_path / 'plain'))
    assert cfg.model.roi_head.bbox_head.vocabulary.templates != ['{}']  # the option was not the config's already
    # the options reach the run that is checked: a model type nobody registered fails its build
    status = tool.main([FVIT, '--work-dir', str(tmp_path / 'bad'), '--cfg-options', 'model.type=NoSuchDetector'])
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert status == 1 and last.startswith('failed at build') and 'NoSuchDetector' in last
