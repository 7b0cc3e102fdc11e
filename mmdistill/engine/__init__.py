from .bf16 import BF16OptimWrapper
from .data_checks import NonEmptyTrainDataHook
from .denormals import FlushDenormalsHook
from .distributed import CPUDistributedDataParallel, CPUSyncBatchNorm, close_distributed, setup_cpu_distributed
from .loss_guard import LossGuardHook, check_finite_terms
from .optimizers import GroupedOptimWrapperConstructor, merge_param_groups
from .rng_state import RNGStateHook
from .teacher_update import TeacherUpdateHook

__all__ = ['BF16OptimWrapper', 'CPUDistributedDataParallel', 'CPUSyncBatchNorm', 'FlushDenormalsHook',
           'GroupedOptimWrapperConstructor', 'LossGuardHook', 'NonEmptyTrainDataHook', 'RNGStateHook',
           'TeacherUpdateHook', 'check_finite_terms', 'close_distributed', 'merge_param_groups',
           'setup_cpu_distributed']
