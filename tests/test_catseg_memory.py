"""Cat-Seg's memory options: activation checkpointing of the head (``decode_head.with_cp``), of the image tower
(``tower.grad_checkpointing``) and of the text tower (``vocabulary.text.grad_checkpointing``) give the loss and the
gradients of a plain step, and recompute in the backward pass."""
import torch
from open_clip.transformer import ResidualAttentionBlock
from test_catseg import build, catseg_cfg, perturb_head, samples, with_text

from mmdistill.seg.catseg.aggregation import AggregatorLayer, GuidedUp


def step(memory_options: bool):
    overrides = {}
    if memory_options:  # as --cfg-options model.decode_head.with_cp=True model.tower.grad_checkpointing=True ...
        cfg = catseg_cfg()
        overrides = dict(decode_head=dict(cfg.decode_head, with_cp=True),
                         tower=dict(cfg.tower, grad_checkpointing=True),
                         vocabulary=with_text(grad_checkpointing=True))
    model = build(**overrides)
    assert model.decode_head.with_cp is model.tower.grad_checkpointing is model.text_tower.grad_checkpointing \
        is memory_options
    perturb_head(model)
    model.train()
    calls = {}
    watched = {'head layer': next(m for m in model.decode_head.modules() if isinstance(m, AggregatorLayer)),
               'decoder stage': next(m for m in model.decode_head.modules() if isinstance(m, GuidedUp)),
               'image block': next(m for m in model.tower.modules() if isinstance(m, ResidualAttentionBlock)),
               'text block': next(m for m in model.text_tower.modules() if isinstance(m, ResidualAttentionBlock))}
    for name, module in watched.items():  # a pre-hook sees the forward and the recomputation
        module.register_forward_pre_hook(lambda *args, name=name: calls.__setitem__(name, calls.get(name, 0) + 1))
    torch.manual_seed(3)
    images, labels = torch.randn(2, 3, 32, 32), torch.randint(0, 4, (2, 32, 32))
    losses = model.loss(images, samples(labels))
    loss = sum(v for k, v in losses.items() if 'loss' in k)
    loss.backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    return loss, grads, calls


def test_memory_options_keep_loss_and_gradients_and_recompute():
    loss, grads, calls = step(memory_options=False)
    loss_cp, grads_cp, calls_cp = step(memory_options=True)
    assert calls == {'head layer': 1, 'decoder stage': 1, 'image block': 1, 'text block': 1}
    assert calls_cp == {'head layer': 2, 'decoder stage': 2, 'image block': 2, 'text block': 2}
    torch.testing.assert_close(loss_cp, loss)
    assert set(grads_cp) == set(grads)
    assert any('text_tower' in n for n in grads) and any(n.startswith('tower.') for n in grads)
    for name, grad in grads.items():
        torch.testing.assert_close(grads_cp[name], grad, rtol=1e-4, atol=1e-6, msg=name)
