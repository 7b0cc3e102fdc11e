"""mmdistill: CLIP dense-feature distillation for OpenMMLab."""
from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent


def read_requirements(name: str) -> list[str]:
    lines = (HERE / 'requirements' / name).read_text().splitlines()
    return [ln.strip() for ln in lines if ln.strip() and not ln.startswith('#')]


def read_version() -> str:
    scope: dict = {}
    exec((HERE / 'mmdistill' / 'version.py').read_text(), scope)
    return scope['__version__']


setup(
    name='mmdistill',
    version=read_version(),
    description='CLIP dense-feature distillation (CLIPSelf, SCD, Refiner, ATAS, SILC, C2S) for OpenMMLab',
    long_description=(HERE / 'README.md').read_text(encoding='utf-8'),
    long_description_content_type='text/markdown',
    license='Apache-2.0',
    packages=find_packages(exclude=('tests', 'tests.*', 'tools', 'configs')),
    python_requires='>=3.9',
    install_requires=read_requirements('runtime.txt') + read_requirements('mminstall.txt'),
    extras_require={'tests': read_requirements('tests.txt')},
    zip_safe=False,
)
