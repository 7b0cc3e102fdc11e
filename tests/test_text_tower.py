"""CLIPTextTower on both open_clip model classes (``CLIP`` and ``CustomTextCLIP``: EVA02, SigLIP...), its
activation checkpointing, and the SILC EVA02-B/16 captions config built and stepped with a tiny EVA02 tower."""
import open_clip
import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.structures import BaseDataElement

import mmdistill  # noqa: F401
from mmdistill.clip import build_tokenizer
from mmdistill.clip.text_tower import CLIPTextTower
from mmdistill.registry import MODELS

VIT, EVA = 'mmdistill-tiny-ViT-P8', 'mmdistill-tiny-EVA-P8'  # a CLIP and a CustomTextCLIP (text under .text)
CAPTIONS = ['a photo of a red circle', 'two blue squares on grass', 'a dog']


def reference_text(clip: torch.nn.Module, tokens: torch.Tensor) -> torch.Tensor:
    """Token embedding, positions, causal transformer, final norm, the end-of-text token, projection."""
    text = clip.text if isinstance(clip, open_clip.CustomTextCLIP) else clip
    x = text.token_embedding(tokens) + text.positional_embedding
    x = text.transformer(x, attn_mask=text.attn_mask)
    x = text.ln_final(x)
    x = x[torch.arange(len(tokens)), tokens.argmax(dim=-1)] @ text.text_projection
    return F.normalize(x, dim=-1)


@pytest.mark.parametrize('arch,cls', [(VIT, open_clip.CLIP), (EVA, open_clip.CustomTextCLIP)])
def test_text_tower_on_both_model_classes(arch, cls):
    torch.manual_seed(0)
    tower = CLIPTextTower(arch)
    assert type(tower.clip) is cls and not hasattr(tower.clip, 'visual')
    assert tower.device == torch.device('cpu')
    embeddings = tower(CAPTIONS)
    assert embeddings.shape == (3, 32) and embeddings.dtype == torch.float32
    tokens = build_tokenizer(arch)(CAPTIONS)
    torch.testing.assert_close(embeddings, reference_text(tower.clip, tokens), rtol=1e-5, atol=1e-6)
    embeddings.sum().backward()
    trained = [n for n, p in tower.named_parameters() if p.grad is not None and p.grad.abs().sum() > 0]
    assert any('token_embedding' in n for n in trained) and not any('logit_scale' in n for n in trained)


@pytest.mark.parametrize('arch', [VIT, EVA])
def test_text_grad_checkpointing_gives_the_same_gradients(arch):
    def run(checkpointing: bool):
        torch.manual_seed(0)
        tower = CLIPTextTower(arch, grad_checkpointing=checkpointing)
        assert tower.grad_checkpointing is checkpointing
        blocks = [m for m in tower.modules() if isinstance(m, open_clip.transformer.ResidualAttentionBlock)]
        calls = []
        blocks[0].register_forward_pre_hook(lambda *args: calls.append(1))
        loss = (tower(CAPTIONS) * torch.arange(32.0)).sum()
        loss.backward()
        return loss, {n: p.grad for n, p in tower.named_parameters() if p.grad is not None}, len(calls)

    loss, grads, calls = run(False)
    loss_cp, grads_cp, calls_cp = run(True)
    assert (calls, calls_cp) == (1, 2)  # the block ran again in the backward pass
    torch.testing.assert_close(loss_cp, loss)
    assert set(grads_cp) == set(grads)
    for name, grad in grads.items():
        torch.testing.assert_close(grads_cp[name], grad, rtol=1e-5, atol=1e-7, msg=name)


def test_silc_eva02_captions_config_builds_and_steps_with_a_tiny_eva02():
    """configs/silc/silc_eva02_b16_coco_captions.py with the EVA02 towers shrunk to the tiny EVA02 (same open_clip
    class, CustomTextCLIP) and fewer prototypes: every term's loss is finite and reaches both towers."""
    cfg = Config.fromfile('configs/silc/silc_eva02_b16_coco_captions.py')
    for part in (cfg.model.student, cfg.model.text_tower):
        part.arch, part.checkpoint = EVA, None
    cfg.model.heads.head.out_dim = cfg.model.terms[0].out_dim = 64
    cfg.model.views.local_size = 16
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    assert isinstance(model.text_tower.clip, open_clip.CustomTextCLIP)
    images = torch.randn(2, 3, 48, 48)
    samples = [BaseDataElement(metainfo=dict(img_shape=(48, 48), caption=c)) for c in CAPTIONS[:2]]
    losses = model.loss(images, samples)
    assert {'loss_dino', 'loss_image_text'} <= set(losses)
    total = sum(v for k, v in losses.items() if k.startswith('loss'))
    assert torch.isfinite(total)
    total.backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.text_tower.parameters())
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.student.parameters())
