"""Tests for the modern routers: expert choice, auxiliary-loss-free bias balancing, shared experts."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from spark_edu.moe import (
    DISPATCH,
    BiasBalancedRouter,
    Experts,
    ExpertChoiceRouter,
    MoEConfig,
    MoELayer,
    RouterConfig,
    SharedExperts,
    bias_update,
    biased_top_k_routing,
    expert_choice_routing,
    load_fractions,
    max_violation,
    top_k_routing,
    unrouted_rate,
)
from spark_edu.moe.expert_choice import tokens_per_token


def _logits(T=37, E=8, seed=0, dtype=torch.float64):
    return torch.randn(T, E, generator=torch.Generator().manual_seed(seed), dtype=dtype)


# --- expert choice ---------------------------------------------------------------------------


@pytest.mark.parametrize("T,E,k,c", [(37, 8, 2, 1.0), (16, 4, 1, 1.5), (5, 8, 2, 1.0), (10, 3, 3, 4.0)])
def test_expert_choice_each_expert_takes_its_top_c_tokens(T, E, k, c):
    logits = _logits(T, E)
    r = expert_choice_routing(logits, k, c)
    C = min(T, math.ceil(c * T * k / E))
    assert r.capacity == C
    assert r.kept.sum(dim=0).tolist() == [C] * E  # every expert exactly C tokens: balanced by construction
    probs = np.asarray(logits.softmax(-1))
    for e in range(E):  # brute force: the C highest scores of column e (no ties with random floats)
        expected = set(np.argsort(-probs[:, e], kind="stable")[:C].tolist())
        assert set(torch.nonzero(r.kept[:, e]).flatten().tolist()) == expected
    torch.testing.assert_close(r.gates, logits.softmax(-1) * r.kept)  # raw scores, zero where not taken
    assert torch.equal(r.indices, torch.arange(E).repeat(T, 1))
    assert int(tokens_per_token(r).sum()) == C * E


def test_expert_choice_can_leave_tokens_unprocessed_and_metrics_see_it():
    logits = torch.zeros(8, 4, dtype=torch.float64)
    logits[:4, 1:] = 0.01 * torch.arange(4.0)[:, None]  # tokens 0-3: near uniform, later ones a bit higher
    logits[4:, 0] = 10.0 + 0.01 * torch.arange(4.0)  # tokens 4-7 all want expert 0
    r = expert_choice_routing(logits, k=1, capacity_factor=1.0)  # C = 2 places per expert
    assert r.capacity == 2
    assert torch.nonzero(r.kept[:, 0]).flatten().tolist() == [6, 7]  # expert 0: its two best fans
    for e in (1, 2, 3):  # the others: the two tokens 0-3 that score them highest
        assert torch.nonzero(r.kept[:, e]).flatten().tolist() == [2, 3]
    assert tokens_per_token(r).tolist() == [0, 0, 3, 3, 0, 0, 1, 1]
    assert unrouted_rate(r.kept) == 0.5
    assert load_fractions(r.indices, 4, kept=r.kept).tolist() == [0.25] * 4


def test_expert_choice_dispatch_paths_agree_values_and_gradients():
    torch.manual_seed(0)
    experts = Experts(6, 5, 7).double()
    x = torch.randn(23, 5, dtype=torch.float64, requires_grad=True)
    logits = _logits(23, 6).requires_grad_(True)
    r = expert_choice_routing(logits, k=2, capacity_factor=0.8)
    params = [x, logits, *experts.parameters()]
    outs = {name: fn(x, r, experts) for name, fn in DISPATCH.items()}
    grads = {name: torch.autograd.grad(o.square().sum(), params, retain_graph=True) for name, o in outs.items()}
    # independent reference: y_t = Σ_e kept[t,e] S[t,e] Expert_e(x_t), expert by expert on every token
    S = logits.softmax(-1)
    ref = sum(r.kept[:, e, None] * S[:, e, None] * experts.expert(e, x) for e in range(6))
    for name in DISPATCH:
        torch.testing.assert_close(outs[name], ref, atol=1e-12, rtol=1e-10)
        for a, b in zip(grads[name], grads["dense"]):
            torch.testing.assert_close(a, b, atol=1e-12, rtol=1e-10)
    assert grads["sorted"][1].abs().sum() > 0  # the router's scores get a gradient through the gates


def test_expert_choice_router_trains_its_gate():
    router = ExpertChoiceRouter(RouterConfig(d_model=8, n_experts=4, k=2))
    x = torch.randn(20, 8)
    r = router(x)
    (r.gates * torch.arange(4.0)).sum().backward()
    assert router.gate.weight.grad.abs().sum() > 0


def test_expert_choice_bad_inputs():
    with pytest.raises(ValueError, match="k must be at most"):
        expert_choice_routing(_logits(10, 4), k=5)
    with pytest.raises(ValueError, match="k"):
        expert_choice_routing(_logits(10, 4), k=0)
    with pytest.raises(ValueError, match="capacity_factor"):
        expert_choice_routing(_logits(10, 4), k=2, capacity_factor=0.0)
    with pytest.raises(ValueError, match="at least one token"):
        expert_choice_routing(torch.zeros(0, 4), k=2)
    with pytest.raises(TypeError, match="logits"):
        expert_choice_routing(torch.zeros(4, 4, dtype=torch.long), k=2)
    with pytest.raises(ValueError, match="logits"):
        expert_choice_routing(torch.zeros(4), k=1)
    with pytest.raises(ValueError, match="noise"):
        ExpertChoiceRouter(RouterConfig(noise=1.0))


# --- bias balancing ------------------------------------------------------------------------


def test_zero_bias_is_top_k_and_gates_ignore_the_bias():
    logits = _logits()
    plain, biased = top_k_routing(logits, 2, 1.25), biased_top_k_routing(logits, torch.zeros(8), 2, 1.25)
    for name in ("indices", "gates", "kept"):
        assert torch.equal(getattr(plain, name), getattr(biased, name))
    bias = torch.zeros(8, dtype=torch.float64)
    bias[5] = 10.0  # expert 5 wins every selection ...
    r = biased_top_k_routing(logits, bias, 2)
    assert (r.indices == 5).any(dim=-1).all()
    p = logits.softmax(-1)
    chosen = p.gather(1, r.indices)
    torch.testing.assert_close(r.gates, chosen / chosen.sum(-1, keepdim=True))  # ... but gates use p alone


def test_bias_update_follows_the_sign_rule_by_hand():
    indices = torch.tensor([[0, 1], [0, 2], [0, 1]])  # counts 3, 2, 1, 0; mean 1.5
    new = bias_update(torch.zeros(4), indices, rate=0.1)
    torch.testing.assert_close(new, torch.tensor([-0.1, -0.1, 0.1, 0.1]))
    assert torch.equal(bias_update(torch.ones(2), torch.tensor([[0], [1]]), 0.5), torch.ones(2))  # balanced: no move


def test_bias_balancing_removes_the_imbalance_of_a_skewed_router():
    logits = _logits(512, 8, seed=1, dtype=torch.float32)
    logits[:, 0] += 2.0  # expert 0 is everyone's favourite
    router = BiasBalancedRouter(RouterConfig(d_model=8, n_experts=8, k=2), rate=0.01)
    before = max_violation(load_fractions(router.route(logits).indices, 8))
    for _ in range(300):  # training mode: each route moves the bias
        router.route(logits)
    router.eval()
    frozen = router.bias.clone()
    after = max_violation(load_fractions(router.route(logits).indices, 8))
    assert torch.equal(router.bias, frozen)  # evaluation does not move it
    assert before > 2.0 and after < 0.25, (before, after)  # sign steps leave a small oscillation
    assert float(router.bias[0]) < 0 < float(router.bias[1:].mean())


def test_bias_router_gradient_reaches_the_gate_not_the_bias():
    router = BiasBalancedRouter(RouterConfig(d_model=8, n_experts=4, k=2))
    r = router(torch.randn(16, 8))
    (r.gates * torch.arange(2.0)).sum().backward()
    assert router.gate.weight.grad.abs().sum() > 0
    assert not router.bias.requires_grad and "bias" in router.state_dict()


def test_bias_bad_inputs():
    logits = _logits(10, 4)
    with pytest.raises(ValueError, match="bias must have one entry per expert"):
        biased_top_k_routing(logits, torch.zeros(3), 2)
    with pytest.raises(ValueError, match="bias"):
        biased_top_k_routing(logits, torch.tensor([0.0, float("nan"), 0.0, 0.0]), 2)
    with pytest.raises(ValueError, match="k must be"):
        biased_top_k_routing(logits, torch.zeros(4), 5)
    with pytest.raises(ValueError, match="capacity_factor"):
        biased_top_k_routing(logits, torch.zeros(4), 2, capacity_factor=-1.0)
    with pytest.raises(ValueError, match="rate"):
        bias_update(torch.zeros(4), torch.zeros(3, 2, dtype=torch.long), rate=-0.1)
    with pytest.raises(ValueError, match="indices"):
        bias_update(torch.zeros(4), torch.full((3, 2), 4), rate=0.1)
    with pytest.raises(ValueError, match="noise"):
        BiasBalancedRouter(RouterConfig(noise=0.5))


def test_bias_router_with_capacity_drops_like_top_k():
    router = BiasBalancedRouter(RouterConfig(d_model=8, n_experts=4, k=2, capacity_factor=1.0)).eval()
    r = router(torch.randn(30, 8))
    assert r.capacity == 15 and int(torch.bincount(r.indices[r.kept], minlength=4).max()) <= 15
    assert torch.equal(r.gates == 0, ~r.kept)


# --- shared experts and the layer ----------------------------------------------------------


def test_shared_expert_layer_adds_the_shared_mlp_to_the_routed_output():
    torch.manual_seed(0)
    layer = MoELayer(MoEConfig(d_model=6, d_hidden=5, n_experts=4, k=1, renormalize=False, shared_experts=2)).double()
    x = torch.randn(11, 6, dtype=torch.float64)
    out = layer(x)
    routed = DISPATCH["loop"](x, out.routing, layer.experts)
    shared = layer.shared.experts.expert(0, x) + layer.shared.experts.expert(1, x)  # eq-moe-shared by hand
    torch.testing.assert_close(out.out, routed + shared)
    out.out.square().sum().backward()
    assert layer.shared.experts.w1.grad.abs().sum() > 0 and layer.router.gate.weight.grad.abs().sum() > 0


def test_shared_experts_bad_inputs():
    with pytest.raises(ValueError, match="n_shared"):
        SharedExperts(0, 4, 4)
    with pytest.raises(ValueError, match="last dimension"):
        SharedExperts(1, 4, 4)(torch.randn(3, 5))
    with pytest.raises(ValueError, match="x"):
        SharedExperts(1, 4, 4)(torch.randn(4))


@pytest.mark.parametrize("router", ["top_k", "expert_choice", "bias"])
def test_every_router_runs_in_the_layer_on_every_dispatch_path(router):
    torch.manual_seed(1)
    outs = []
    for dispatch in DISPATCH:
        torch.manual_seed(1)
        layer = MoELayer(MoEConfig(router=router, capacity_factor=1.0, dispatch=dispatch)).eval()
        outs.append(layer(torch.randn(3, 9, 32, generator=torch.Generator().manual_seed(2))).out)
    for o in outs[1:]:
        torch.testing.assert_close(o, outs[0], atol=1e-5, rtol=1e-5)


def test_layer_config_bad_inputs_and_expert_parallel_refuses_what_it_lacks():
    with pytest.raises(ValueError, match="router must be one of"):
        MoEConfig(router="random")
    with pytest.raises(ValueError, match="noise must be 0"):
        MoEConfig(router="expert_choice", noise=1.0)
    with pytest.raises(ValueError, match="shared_experts"):
        MoEConfig(shared_experts=-1)
    with pytest.raises(ValueError, match="bias_rate"):
        MoEConfig(router="bias", bias_rate=-1.0)
    from spark_edu.moe.expert_parallel import ExpertParallelMoE

    with pytest.raises(ValueError, match="expert parallelism needs"):
        ExpertParallelMoE(MoEConfig(router="expert_choice"))
    with pytest.raises(ValueError, match="expert parallelism needs"):
        ExpertParallelMoE(MoEConfig(shared_experts=1))


def test_unrouted_rate_by_hand_and_bad_input():
    kept = torch.tensor([[True, False], [False, False], [False, True], [False, False]])
    assert unrouted_rate(kept) == 0.5
    with pytest.raises(ValueError, match="kept"):
        unrouted_rate(torch.ones(3, 2))


# --- the chapter's comparison (tiny) -------------------------------------------------------


def test_router_comparison_runs_small_with_its_invariants(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from spark_edu.chapters.moe.figures import plot_router_loads
    from spark_edu.chapters.moe.routers import METHODS, format_table, quick

    result = quick(steps=20)
    assert list(result["methods"]) == list(METHODS)
    ec = result["methods"]["expert choice"]
    assert ec["summary"]["max_violation"][0] == 0.0 and ec["summary"]["balance_cv"][0] == 1.0  # by construction
    assert ec["summary"]["dropped"] is None and ec["per_seed"][0]["dropped"] is None
    top2 = result["methods"]["top-2 + Switch"]
    assert 0 <= top2["summary"]["dropped"][0] < 1 and top2["summary"]["unrouted"][0] <= top2["summary"]["dropped"][0]
    assert len(top2["load_history_seed0"]) == 2 and len(top2["load_history_seed0"][0]) == 8
    assert result["overlap"] == {"test": 0, "validation": 0}
    bias = result["methods"]["top-2 + bias"]  # u chosen by validation MaxVio among the quick grid
    by_u = bias["validation_max_violation_by_u"]
    assert set(by_u) == {"0.001", "0.003"} and bias["config"]["bias_rate"] == float(min(by_u, key=by_u.get))
    table = repr(format_table(result))
    assert "expert choice" in table and "—" in table
    fig = plot_router_loads(result)
    assert len(fig.axes) == len(METHODS)
    plt.close(fig)
