from .bf16 import BF16OptimWrapper
from .loss_guard import check_finite_terms, install_loss_guard
from .optimizers import GroupedOptimWrapperConstructor, merge_param_groups

install_loss_guard()

__all__ = ['BF16OptimWrapper', 'check_finite_terms', 'install_loss_guard', 'GroupedOptimWrapperConstructor',
           'merge_param_groups']
