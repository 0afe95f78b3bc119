"""Networks: shapes, the time input, the registry round trip, and clear errors for bad configs."""
from __future__ import annotations

import json
import math

import pytest
import torch

from ddpm_edu.nets import (ARCHITECTURES, MLP, UNet, UNetConfig, architecture, build_network,
                           count_parameters, network_config)
from ddpm_edu.nets.embedding import sinusoidal_embedding
from ddpm_edu.nets.unet import SelfAttention


def _randomise(net: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Give every parameter random values (the zero-initialised convs would hide a wiring bug)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(0.1 * torch.randn(p.shape, generator=g))
    return net


def _small_unet(**kw) -> UNet:
    cfg = {"kind": "unet", "image_size": 12, "in_channels": 2, "out_channels": 3,
           "base_channels": 8, "channel_mult": [1, 2, 2], "num_res_blocks": 1,
           "attention_resolutions": [3], "norm_groups": 4, **kw}
    return build_network(cfg)


@pytest.mark.parametrize("name, shape", [("mnist", (2, 1, 28, 28)), ("flowers64", (1, 3, 64, 64)),
                                         ("toy2d", (5, 2))])
def test_architectures_map_x_to_its_own_shape(name, shape):
    torch.manual_seed(0)
    net = build_network(architecture(name))
    out = net(torch.randn(shape), torch.arange(1, shape[0] + 1))
    assert out.shape == shape and out.dtype == torch.float32


def test_mnist_architecture_is_small():
    # the benchmark's design target (benchmarks/README.md): 0.5–2 M parameters
    assert 0.5e6 <= count_parameters(build_network(architecture("mnist"))) <= 2e6


@pytest.mark.parametrize("size, mult, attn", [(12, [1, 2, 2], [3]), (7, [1], [7]), (20, [1, 2], []),
                                               (28, [1, 2, 2], [14, 7])])
def test_odd_and_non_power_of_two_sizes(size, mult, attn):
    net = _small_unet(image_size=size, channel_mult=mult, attention_resolutions=attn)
    assert net.config.resolutions[-1] == size // 2 ** (len(mult) - 1)
    out = _randomise(net)(torch.randn(3, 2, size, size), torch.tensor([1, 500, 1000]))
    assert out.shape == (3, 3, size, size)


def test_fresh_unet_outputs_zero_then_learns_everywhere():
    # zero-initialised output conv: ε̂ = 0 at step 0 (documented); after randomising, every
    # parameter gets a gradient, so no block is disconnected
    net = _small_unet(num_res_blocks=2, attention_resolutions=[6, 3])
    x, t = torch.randn(2, 2, 12, 12), torch.tensor([3, 700])
    assert torch.equal(net(x, t), torch.zeros(2, 3, 12, 12))
    _randomise(net)(x, t).square().sum().backward()
    dead = [n for n, p in net.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert dead == []


@pytest.mark.parametrize("net", [_small_unet(), build_network({"kind": "mlp", "hidden": 16})],
                         ids=["unet", "mlp"])
def test_output_depends_on_t_and_only_on_its_own_example(net):
    _randomise(net)
    x = torch.randn((2, 2, 12, 12) if net.kind == "unet" else (2, 2))
    out = net(x, torch.tensor([10, 10]))
    assert not torch.allclose(out, net(x, torch.tensor([11, 10]))[0:1].expand_as(out))
    assert not torch.allclose(out[0], net(x, torch.tensor([11, 10]))[0])
    torch.testing.assert_close(out[1], net(x, torch.tensor([11, 10]))[1])  # example 1 untouched
    x2 = x.clone()
    x2[1] += 1.0
    torch.testing.assert_close(net(x2, torch.tensor([10, 10]))[0], out[0])  # no cross-talk


@pytest.mark.parametrize("t, err, match", [
    (torch.tensor([1.0, 2.0]), TypeError, "integer tensor"),
    (torch.tensor(5), ValueError, r"shape \[2\]"),
    (torch.tensor([1, 2, 3]), ValueError, r"shape \[2\]"),
    (torch.tensor([1, -1]), ValueError, "non-negative"),
    (5, TypeError, "LongTensor"),
])
def test_bad_t_is_refused(t, err, match):
    with pytest.raises(err, match=match):
        _small_unet()(torch.randn(2, 2, 12, 12), t)


def test_bad_x_shape_is_refused():
    with pytest.raises(ValueError, match=r"built for inputs \(B, 2, 12, 12\)"):
        _small_unet()(torch.randn(2, 2, 16, 16), torch.tensor([1, 2]))
    with pytest.raises(ValueError, match=r"shape \(N, 2\)"):
        build_network(architecture("toy2d"))(torch.randn(4, 3), torch.ones(4, dtype=torch.long))


@pytest.mark.parametrize("name", sorted(ARCHITECTURES))
def test_registry_round_trip_through_json(name):
    cfg = architecture(name)
    assert json.loads(json.dumps(cfg)) == cfg
    net = _randomise(build_network(json.loads(json.dumps(cfg)))).eval()  # eval: no dropout
    assert network_config(net) == cfg
    twin = build_network(network_config(net)).eval()
    twin.load_state_dict(net.state_dict())  # strict: same parameter names and shapes
    if name != "flowers64":  # (a 64×64 forward pass is slow on a shared CPU; the check is the same)
        c = net.config
        x = torch.randn(
            (2, 2) if name == "toy2d" else (2, c.in_channels, c.image_size, c.image_size)
        )
        t = torch.tensor([1, 999])
        torch.testing.assert_close(twin(x, t), net(x, t))


def test_architecture_returns_a_fresh_copy():
    cfg = architecture("mnist")
    cfg["base_channels"] = 1
    assert architecture("mnist")["base_channels"] != 1


@pytest.mark.parametrize("change, match", [
    ({"image_size": 30}, r"30 → 15 → 7.5.*multiple of 4"),
    ({"attention_resolutions": [5]}, r"\[5\] are not resolutions.*\[12, 6, 3\]"),
    ({"base_channels": 6}, "divisible by norm_groups"),
    ({"num_heads": 3, "attention_resolutions": [3]}, "num_heads"),
    ({"channel_mult": []}, "non-empty"),
    ({"dropout": 1.0}, r"\[0, 1\)"),
    ({"num_res_blocks": 0}, "positive int"),
    ({"image_size": 12.0}, "positive int"),
    ({"base_chanels": 8}, "unknown field.*base_chanels"),
    ({"kind": "transformer"}, "unknown network kind"),
])
def test_bad_configs_give_clear_errors(change, match):
    with pytest.raises(ValueError, match=match):
        _small_unet(**change)


def test_registry_input_errors():
    with pytest.raises(ValueError, match="'kind'"):
        build_network({"image_size": 28})
    with pytest.raises(TypeError, match="dict"):
        build_network(UNetConfig())
    with pytest.raises(ValueError, match="unknown network architecture"):
        architecture("cifar")
    with pytest.raises(TypeError, match="ddpm_edu network"):
        network_config(torch.nn.Linear(2, 2))
    with pytest.raises(TypeError, match="UNetConfig"):
        UNet({"image_size": 28})
    with pytest.raises(TypeError, match="MLPConfig"):
        MLP(UNetConfig())


def test_sinusoidal_embedding_matches_the_formula():
    t = torch.tensor([0, 1, 37, 1000])
    dim, half = 10, 5
    emb = sinusoidal_embedding(t, dim)
    for i, ti in enumerate(t.tolist()):
        for k in range(half):
            w = 10000.0 ** (-k / half)
            assert emb[i, k].item() == pytest.approx(math.cos(ti * w), abs=1e-5)
            assert emb[i, half + k].item() == pytest.approx(math.sin(ti * w), abs=1e-5)
    assert sinusoidal_embedding(t, 7)[:, -1].abs().max() == 0  # odd dim: one zero column


def test_self_attention_matches_explicit_softmax():
    torch.manual_seed(0)
    attn = _randomise(SelfAttention(8, heads=2, groups=4))
    x = torch.randn(2, 8, 3, 3)
    q, k, v = attn.qkv(attn.norm(x)).reshape(2, 3, 2, 4, 9).unbind(1)  # (B, heads, d, HW)
    w = torch.softmax(torch.einsum("bhdi,bhdj->bhij", q, k) / 2.0, dim=-1)  # √d = 2
    h = torch.einsum("bhij,bhdj->bhdi", w, v).reshape(2, 8, 3, 3)
    torch.testing.assert_close(attn(x), x + attn.proj(h), atol=1e-5, rtol=1e-5)


# ---- class-conditional networks (num_classes > 0) ---------------------------------------------
def _cond_nets():
    mlp = build_network({"kind": "mlp", "dim": 2, "hidden": 16, "num_blocks": 1,
                         "time_embed_dim": 8, "num_classes": 3})
    return [_randomise(_small_unet(num_classes=3)), _randomise(mlp)]


def _inputs(net, n=4):
    g = torch.Generator().manual_seed(1)
    shape = (n, 2) if net.kind == "mlp" else (n, 2, 12, 12)
    return torch.randn(shape, generator=g), torch.full((n,), 50, dtype=torch.long)


@pytest.mark.parametrize("net", _cond_nets(), ids=["unet", "mlp"])
def test_conditional_output_depends_on_its_own_label_and_none_is_the_null_token(net):
    x, t = _inputs(net)
    y = torch.tensor([0, 1, 2, 3])                     # 3 = num_classes = "no label"
    out = net(x, t, y)
    assert out.shape[0] == 4 and out.shape[2:] == x.shape[2:]
    assert torch.equal(net(x, t), net(x, t, torch.full((4,), 3)))  # None ≡ the null token
    y2 = y.clone()
    y2[0] = 1
    out2 = net(x, t, y2)
    assert not torch.allclose(out2[0], out[0])          # the label changes that example...
    torch.testing.assert_close(out2[1:], out[1:], rtol=0, atol=1e-6)  # ...and only that one
    cfg = network_config(net)
    assert cfg["num_classes"] == 3 and network_config(build_network(cfg)) == cfg
    assert net.class_embed.embed.weight.shape[0] == 4   # K labels + the null row


def test_unconditional_networks_unchanged_and_refuse_labels():
    net = _randomise(_small_unet())
    assert "num_classes" not in network_config(net)     # old checkpoints' configs, as before
    assert not any("class" in k for k in net.state_dict())
    assert "num_classes" not in architecture("mnist")
    x, t = _inputs(net)
    with pytest.raises(ValueError, match="unconditional"):
        net(x, t, torch.zeros(4, dtype=torch.long))
    mlp = build_network(architecture("toy2d"))
    with pytest.raises(ValueError, match="unconditional"):
        mlp(torch.zeros(4, 2), t, torch.zeros(4, dtype=torch.long))


@pytest.mark.parametrize("y, err, match", [
    (torch.zeros(4), TypeError, "integer tensor"),
    ([0, 1, 2, 0], TypeError, "LongTensor"),
    (torch.zeros(3, dtype=torch.long), ValueError, r"shape \[4\]"),
    (torch.tensor([0, 1, 4, 0]), ValueError, r"0\.\.2.*got 4"),
    (torch.tensor([0, -1, 2, 0]), ValueError, "got -1"),
])
def test_bad_labels_are_refused(y, err, match):
    net = _cond_nets()[0]
    x, t = _inputs(net)
    with pytest.raises(err, match=match):
        net(x, t, y)


@pytest.mark.parametrize("value", [-1, 1.5, True])
def test_bad_num_classes_is_refused(value):
    with pytest.raises(ValueError, match="num_classes"):
        _small_unet(num_classes=value)


def test_flops_per_image_recounts_the_benchmark_readme():
    """benchmarks/README.md's FLOPs table (chapter 7 reads it) is what flops_per_image counts, and
    the mnist row agrees with the timed benchmark's; a linear layer counted by hand as an oracle."""
    from pathlib import Path
    from ddpm_edu.nets import architecture, build_network, count_parameters, flops_per_image
    readme = (Path(__file__).resolve().parent.parent / "benchmarks" / "README.md").read_text(
        encoding="utf-8")
    for name, shape in (("mnist", (1, 28, 28)), ("flowers64", (3, 64, 64))):
        row = next(line for line in readme.splitlines() if line.startswith(f"| `{name}` |"))
        params, fwd_m, train_m = [float(c.replace(",", "")) for c in row.strip("|").split("|")[2:]]
        net = build_network(architecture(name))
        fwd, train = flops_per_image(net, list(net.parameters()), shape, batch=1)
        assert (count_parameters(net), round(fwd / 1e6, 1), round(train / 1e6, 1)) == (
            params, fwd_m, train_m)
        assert all(p.grad is None for p in net.parameters())
    assert "| ours (`mnist` architecture) | 589,985 | 159.9 | 479.4 |" in readme
    lin = torch.nn.Linear(10, 3)
    fwd, _ = flops_per_image(lambda x, t: lin(x), list(lin.parameters()), (10,), batch=2)
    assert fwd == 2 * 10 * 3
