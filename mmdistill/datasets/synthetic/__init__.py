"""A deterministic synthetic world: compositional things on textured stuff, with real context statistics.

It is the project's embedded default dataset, written in the on-disk layouts of COCO (instances,
captions, panoptic), mmseg (semantic maps) and RPN proposals; see docs/synthetic_world.md.
"""
from .annotations import instance_records, panoptic_ids, panoptic_segments
from .captions import make_captions
from .generate import (
    CLOSEUP_PROB,
    DEFAULT_NUM_TRAIN,
    DEFAULT_NUM_VAL,
    GENERATOR_VERSION,
    file_name,
    generate_world,
    image_rng,
    layout,
    load_world_meta,
    world_is_complete,
)
from .proposals import make_proposals
from .scene import Scene, SceneConfig, render_scene
from .splits import make_splits
from .vocabulary import (
    APPEARANCES,
    COOCCURRING_THINGS,
    NATIVE_THINGS,
    SHAPES,
    STUFF_CLASSES,
    THING_CLASSES,
    THING_PARTS,
)

__all__ = [
    'APPEARANCES', 'CLOSEUP_PROB', 'COOCCURRING_THINGS', 'DEFAULT_NUM_TRAIN', 'DEFAULT_NUM_VAL', 'GENERATOR_VERSION',
    'NATIVE_THINGS', 'SHAPES', 'STUFF_CLASSES', 'THING_CLASSES', 'THING_PARTS', 'Scene', 'SceneConfig',
    'file_name', 'generate_world', 'image_rng', 'instance_records', 'layout', 'load_world_meta',
    'make_captions', 'make_proposals', 'make_splits', 'panoptic_ids', 'panoptic_segments', 'render_scene',
    'world_is_complete',
]
