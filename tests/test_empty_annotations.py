"""Empty boxes, empty masks and images without annotations give finite losses and gradients (never NaN).

The distiller's terms with no box in the batch are tested in test_distill_terms.py
(``test_empty_gives_zero_with_grad_path``) and proposals files without boxes in test_distiller.py.
"""
import torch
from mmdet.structures import DetDataSample
from mmengine.structures import InstanceData
from test_c2s import build as build_c2s
from test_c2s import samples_with_labels, seen_labels
from test_fvit import build as build_fvit
from test_fvit import tiny_model_cfg


def assert_finite_with_finite_gradients(losses: dict, model: torch.nn.Module) -> None:
    total = sum(v for k, v in losses.items() if k.startswith('loss'))
    assert all(torch.isfinite(v).all() for v in losses.values()), losses
    total.backward()
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)


def test_c2s_batch_without_any_label_or_latent_class():
    """Every pixel ignored (no seen class): the full method (teacher, both distillations, latent classes mined
    from the unlabelled pixels) gives finite losses; without mining, an all-ignored batch adds nothing to the CE
    nor to NEL with ignored pixels excluded, and only negatives to NEL in ZegCLIP's form (the default)."""
    torch.manual_seed(0)
    model = build_c2s().train()
    labels = torch.full_like(seen_labels(), 255)
    losses = model.loss(torch.randn(2, 3, 32, 32), samples_with_labels(labels))
    assert_finite_with_finite_gradients(losses, model)
    plain = build_c2s(latent_mining=None, latent_embedding=None).train()
    losses = plain.loss(torch.randn(2, 3, 32, 32), samples_with_labels(labels))
    assert all(torch.isfinite(v) for v in losses.values())
    assert losses['loss_ce'].detach().item() == 0.0 and losses['loss_nel'].detach().item() > 0.0
    excluded = build_c2s(latent_mining=None, latent_embedding=None,
                         pixel_losses=dict(nel=dict(type='NELLoss', ignored_pixels='excluded'))).train()
    assert excluded.loss(torch.randn(2, 3, 32, 32), samples_with_labels(labels))['loss_nel'].detach().item() == 0.0


def test_c2s_image_with_an_empty_mask_next_to_a_labelled_one():
    torch.manual_seed(0)
    model = build_c2s().train()
    labels = seen_labels()
    labels[0] = 255
    assert_finite_with_finite_gradients(model.loss(torch.randn(2, 3, 32, 32), samples_with_labels(labels)), model)


def _det_samples(boxes: list) -> list:
    out = []
    for b in boxes:
        s = DetDataSample(metainfo=dict(img_shape=(64, 64), ori_shape=(64, 64), pad_shape=(64, 64),
                                        scale_factor=(1.0, 1.0), batch_input_shape=(64, 64)))
        s.gt_instances = InstanceData(bboxes=torch.tensor(b, dtype=torch.float32).reshape(-1, 4),
                                      labels=torch.zeros(len(b), dtype=torch.long))
        out.append(s)
    return out


def test_fvit_images_without_boxes():
    torch.manual_seed(0)
    model = build_fvit(tiny_model_cfg()).train()
    for boxes in ([[], []], [[], [[4.0, 6.0, 30.0, 40.0]]]):  # a batch without any box; one image without
        model.zero_grad()
        losses = model.loss(torch.randn(2, 3, 64, 64), _det_samples(boxes))
        losses = {k: (sum(v) if isinstance(v, list) else v) for k, v in losses.items()}
        assert_finite_with_finite_gradients(losses, model)
