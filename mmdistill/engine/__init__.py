from .bf16 import BF16OptimWrapper
from .optimizers import GroupedOptimWrapperConstructor, merge_param_groups

__all__ = ['BF16OptimWrapper', 'GroupedOptimWrapperConstructor', 'merge_param_groups']
