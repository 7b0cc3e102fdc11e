"""Small open_clip architectures shipped with mmdistill (tests and the synthetic world).

``model_configs/*.json`` are registered with open_clip at import, so
``open_clip.create_model('mmdistill-world-ViT-P12')`` works like any built-in
name. The EVA02 test tower is a timm ``Eva`` registered under
``mmdistill_eva02_tiny_p8_clip`` with the EVA02-CLIP block design (RoPE,
SwiGLU with scale norm, inner attention norm, separate q/k/v); the SigLIP test
tower (``mmdistill-tiny-SigLIP-P8``) is a timm ``VisionTransformer`` without a
class token that pools with a MAP head, as open_clip's SigLIP / SigLIP 2 towers.
"""
from pathlib import Path

import open_clip
from timm.models import register_model
from timm.models.eva import Eva
from timm.models.vision_transformer import VisionTransformer

MODEL_CONFIG_DIR = Path(__file__).parent / 'model_configs'
open_clip.add_model_config(MODEL_CONFIG_DIR)


@register_model
def mmdistill_eva02_tiny_p8_clip(pretrained: bool = False, **kwargs) -> Eva:
    """EVA02-CLIP-style tower: 32 px input, patch 8, width 48, 2 blocks."""
    if pretrained:
        raise ValueError('mmdistill_eva02_tiny_p8_clip has no pretrained weights')
    cfg = dict(img_size=32, patch_size=8, embed_dim=48, depth=2, num_heads=3, qkv_fused=False,
               mlp_ratio=4 * 2 / 3, swiglu_mlp=True, scale_mlp=True, scale_attn_inner=True,
               use_rot_pos_emb=True, ref_feat_shape=(4, 4), global_pool='token')
    cfg.update({k: v for k, v in kwargs.items() if not k.startswith(('pretrained_cfg', 'cache_dir'))})
    return Eva(**cfg)


@register_model
def mmdistill_dinov2_tiny_p8(pretrained: bool = False, **kwargs) -> VisionTransformer:
    """DINOv2-style timm ViT for tests: 32 px, patch 8, width 48, 2 blocks, LayerScale, 2 registers."""
    if pretrained:
        raise ValueError('mmdistill_dinov2_tiny_p8 has no pretrained weights')
    cfg = dict(img_size=32, patch_size=8, embed_dim=48, depth=2, num_heads=3, init_values=1e-5, reg_tokens=2,
               no_embed_class=True)
    cfg.update({k: v for k, v in kwargs.items() if not k.startswith(('pretrained_cfg', 'cache_dir'))})
    return VisionTransformer(**cfg)



@register_model
def mmdistill_siglip_tiny_p8(pretrained: bool = False, **kwargs) -> VisionTransformer:
    """SigLIP-style tower for tests: 32 px, patch 8, width 48, 2 blocks, no class token, MAP head."""
    if pretrained:
        raise ValueError('mmdistill_siglip_tiny_p8 has no pretrained weights')
    cfg = dict(img_size=32, patch_size=8, embed_dim=48, depth=2, num_heads=3, mlp_ratio=2, class_token=False,
               global_pool='map')
    cfg.update({k: v for k, v in kwargs.items() if not k.startswith(('pretrained_cfg', 'cache_dir'))})
    return VisionTransformer(**cfg)
