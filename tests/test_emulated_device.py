"""learn/shared/checking.py's emulated_device: cuda's device rules on the CPU, with values."""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from learn.shared.checking import emulated_device


def model_and_batch():
    torch.manual_seed(0)
    return nn.Sequential(nn.Embedding(5, 4), nn.Linear(4, 5)), torch.randint(0, 5, (2, 3)), torch.randint(0, 5, (2, 3))


def test_a_moved_module_runs_on_moved_ids_only():
    model, x, _ = model_and_batch()
    expected = model(x).detach()
    with emulated_device():
        model.to("cuda")
        assert {str(p.device) for p in model.parameters()} == {"cuda:0"}
        with pytest.raises(RuntimeError, match="Expected all tensors to be on the same device"):
            model(x)
        out = model(x.to("cuda"))
        assert out.device == torch.device("cuda", 0) and x.device.type == "cpu"
        assert torch.equal(out.detach().cpu(), expected)  # values, as meta has none


def test_device_follows_views_factories_and_cpu():
    x = torch.arange(6).reshape(2, 3)
    with emulated_device("mps") as dev:
        on = x.to(torch.device("mps"))
        assert on is not x and on.to("mps") is on and on.device.type == "mps"
        assert on[0].device.type == on.view(-1).device.type == "mps"  # views are marked too
        assert torch.arange(3, device=on.device).device.type == "mps" and torch.zeros(3).device.type == "cpu"
        back = on.cpu()
        assert back.device.type == "cpu" and not dev.marked(back) and back.numpy().tolist() == x.tolist()
        assert on.sum().item() == 15 and on.tolist() == x.tolist()
        with pytest.raises(TypeError, match="numpy"):
            on.numpy()
        with pytest.raises(RuntimeError, match="same device"):
            torch.cat([on, x], dim=1)
        assert (on + torch.tensor(1)).device.type == "mps"  # a CPU 0-dim tensor is a scalar, as on cuda
        assert on[torch.tensor([1])].device.type == "mps"  # a CPU index is moved, as on cuda
    assert on.device.type == "cpu"  # outside, a CPU tensor again


def test_training_and_autocast_work_on_the_device():
    model, x, y = model_and_batch()
    reference = [p.detach().clone() for p in model.parameters()]
    with emulated_device() as dev:
        model.cuda()
        x = x.cuda()
        y = y.to(x.device)
        with torch.autocast("cuda", dtype=torch.bfloat16):
            logits = model(x)
        with torch.autocast("cpu", dtype=torch.bfloat16):  # no CPU work here: nothing to cast
            assert model(x).dtype == torch.float32
        assert logits.dtype == torch.bfloat16
        F.cross_entropy(logits.float().flatten(0, 1), y.flatten()).backward()
        assert all(dev.marked(p.grad) for p in model.parameters())
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        with torch.no_grad():
            for p in model.parameters():
                p.add_(p.grad, alpha=-0.1)
    assert any(not torch.equal(p, r) for p, r in zip(model.parameters(), reference))


def test_autocast_without_dtype_is_cudas_float16():
    model, x, _ = model_and_batch()
    with emulated_device():
        model.to("cuda")
        with torch.autocast("cuda"):
            assert model(x.to("cuda")).dtype == torch.float16


def test_an_error_inside_becomes_the_checks_failure_and_cpu_emulates_nothing():
    with pytest.raises(AssertionError, match=r"decode\(ids\), on a cuda device \(emulated\)\n  expected: no error\n"
                                             r"  got:      your code raised TypeError: can't convert cuda:0"):
        with emulated_device("cuda", "decode(ids)"):
            torch.arange(3).cuda().numpy()
    with emulated_device("cpu", "decode(ids)"):
        assert torch.arange(3).numpy().tolist() == [0, 1, 2]
