"""The environment and the plugin mechanism: imports, registries, custom_imports from mmdet / mmseg configs."""
import subprocess
import sys

from mmengine.config import Config
from mmengine.registry import DefaultScope


def test_core_imports_in_a_fresh_interpreter():
    code = 'import mmdistill, mmcv.ops, mmdet.models, mmseg.models, open_clip; print(mmcv.ops.__name__)'
    proc = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == 'mmcv.ops'


def _build_tower_under_scope(scope: str, tmp_path):
    cfg_file = tmp_path / f'{scope}_cfg.py'
    cfg_file.write_text(
        f"default_scope = '{scope}'\n"
        "custom_imports = dict(imports=['mmdistill'], allow_failed_imports=False)\n"
        "model = dict(type='CLIPTower', arch='mmdistill-tiny-ViT-P8', trainable='none')\n")
    cfg = Config.fromfile(str(cfg_file))
    if scope == 'mmdet':
        from mmdet.registry import MODELS
    else:
        from mmseg.registry import MODELS
    with DefaultScope.overwrite_default_scope(scope):
        return MODELS.build(cfg.model)


def test_custom_imports_from_mmdet_and_mmseg_configs(tmp_path):
    from mmdistill.clip import CLIPTower
    for scope in ('mmdet', 'mmseg'):
        tower = _build_tower_under_scope(scope, tmp_path)
        assert isinstance(tower, CLIPTower) and tower.stride == 8


def test_mmdistill_registry_is_a_child_of_mmengine():
    from mmengine.registry import MODELS as ROOT

    from mmdistill.registry import MODELS
    assert MODELS.parent is ROOT and MODELS.scope == 'mmdistill'
    # mmengine's own modules are found from mmdistill's scope (through the parent)
    assert MODELS.get('ExponentialMovingAverage') is not None
    assert MODELS.get('Distiller') is not None and MODELS.get('DenseZeroShotClassifier') is not None
