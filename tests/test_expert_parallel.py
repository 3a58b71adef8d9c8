"""Tests for spark_edu.moe.expert_parallel: real processes (gloo on CPU) against the single-process layer.

Ranks are spawned with torch.multiprocessing (spawn context); every collective is bounded by the
process group's timeout; results come back as files in a temporary folder; processes are always
reaped (join with a deadline, then terminate, then kill). One 2-rank group serves the comparison,
the byte count and the bad configurations (a clean ValueError leaves the group usable); the dying
rank, world size 1 and the benchmark get processes of their own.
"""

import json
import os
import socket
import time
from dataclasses import asdict
from datetime import timedelta
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from spark_edu.moe import MoEConfig, MoELayer
from spark_edu.moe.expert_parallel import ExpertParallelMoE, exchange_bytes

COLLECTIVE_TIMEOUT_S = 15  # a collective whose peer is gone fails after at most this long
LAUNCH_DEADLINE_S = 50  # a launch that takes longer than this is killed and the test fails
KILLED_EXIT = 17

# name -> config, leading shape of each rank's x (ranks do not need the same T), experts that
# never win (their router row puts -30 on a feature that is always 1, i.e. a very negative bias)
CASES = {
    "drops_and_silent_expert": (  # capacity 0.5 drops assignments; expert 3 (on rank 1) gets no token
        MoEConfig(d_model=6, d_hidden=5, n_experts=4, k=2, capacity_factor=0.5, balance_alpha=0.01, z_beta=0.001),
        [(13,), (7,)],
        (3,),
    ),
    "silent_rank": (  # rank 1 holds experts 2 and 3, neither ever chosen: it receives nothing at all
        MoEConfig(d_model=6, d_hidden=5, n_experts=4, k=2, capacity_factor=1.0),
        [(9,), (11,)],
        (2, 3),
    ),
    "noisy_top1_batched": (  # noisy Switch routing in training mode, 4 experts per rank, x (B, S, D)
        MoEConfig(d_model=6, d_hidden=5, n_experts=8, k=1, noise=1.0, renormalize=False),
        [(3, 4), (2, 4)],
        (),
    ),
}


def _build(name: str, world_size: int):
    """The single-process layer (float64), each rank's x and loss weights, and a generator factory."""
    config, shapes, silent = CASES[name]
    torch.manual_seed(0)
    layer = MoELayer(config).double().train(config.noise > 0)
    with torch.no_grad():
        layer.router.gate.weight[:, 0] = 0.0
        layer.router.gate.weight[list(silent), 0] = -30.0
    g = torch.Generator().manual_seed(1)
    xs, ws = [], []
    for shape in shapes[:world_size]:
        x = torch.randn(*shape, config.d_model, generator=g, dtype=torch.float64)
        x[..., 0] = 1.0  # the constant feature the silent experts' "bias" rides on
        xs.append(x)
        ws.append(torch.randn(*shape, config.d_model, generator=g, dtype=torch.float64))
    return layer, xs, ws, lambda rank: torch.Generator().manual_seed(100 + rank)


def _grads(module: torch.nn.Module) -> dict:
    return {name: p.grad.clone() for name, p in module.named_parameters()}


# --- what the ranks run -------------------------------------------------------------------


def _scenario_equal(rank: int, world_size: int) -> dict:
    results = {}
    for name in CASES:
        layer, xs, ws, generator = _build(name, world_size)
        ep = ExpertParallelMoE.from_layer(layer)
        x = xs[rank].clone().requires_grad_(True)
        out = ep(x, generator(rank))
        ((out.out * ws[rank]).sum() + out.aux_loss).backward()
        local_router = _grads(ep.router)
        ep.reduce_router_grads()
        results[name] = {
            "out": out.out.detach(),
            "aux": out.aux_loss.detach(),
            "x_grad": x.grad,
            "router_grad_local": local_router,
            "router_grad_summed": _grads(ep.router),
            "expert_grads": _grads(ep.experts),
            "first_expert": ep.first_expert,
            "exchange": asdict(ep.last_exchange),
        }
    return results


def _expect_value_error(fn) -> tuple[str, float]:
    """The ValueError's message (or "no error") and how long it took to come."""
    start = time.perf_counter()
    try:
        fn()
    except ValueError as err:
        return str(err), time.perf_counter() - start
    return "no error", time.perf_counter() - start


def _scenario_bad(rank: int, world_size: int) -> dict:
    small = MoEConfig(d_model=4, d_hidden=4, n_experts=4, k=2)
    good = ExpertParallelMoE(small)
    return {
        "divisible": _expect_value_error(lambda: ExpertParallelMoE(MoEConfig(d_model=4, n_experts=3, k=2))),
        "mismatch": _expect_value_error(lambda: ExpertParallelMoE(MoEConfig(d_model=4, n_experts=4, k=2 - rank))),
        "bad_input": _expect_value_error(lambda: good(torch.randn(5, 4 + rank))),  # rank 1 gives the wrong width
        "still_works": tuple(good(torch.randn(5, 4)).out.shape),  # the group survived the three errors
    }


def _scenario_kill(rank: int, world_size: int) -> dict:
    ep = ExpertParallelMoE(MoEConfig(d_model=4, d_hidden=4, n_experts=4, k=2))
    if rank == 1:  # die just before the first activation all_to_all (the second one; the first is the counts)
        real, calls = dist.all_to_all_single, []

        def dying_all_to_all(*args, **kwargs):
            calls.append(1)
            if len(calls) == 2:
                os._exit(KILLED_EXIT)
            return real(*args, **kwargs)

        dist.all_to_all_single = dying_all_to_all
    start = time.perf_counter()
    try:
        ep(torch.randn(32, 4))
    except Exception as err:  # noqa: BLE001 - which error gloo raises is its business; that one comes is ours
        return {"error": type(err).__name__, "message": str(err), "seconds": time.perf_counter() - start}
    return {"finished": True}


def _scenario_bytes(rank: int, world_size: int) -> dict:
    config = MoEConfig(d_model=16, d_hidden=4, n_experts=4, k=2)
    torch.manual_seed(0)
    layer = MoELayer(config).eval()
    with torch.no_grad():  # orthonormal router rows and Gaussian x: every expert equally likely
        layer.router.gate.weight.copy_(torch.linalg.qr(torch.randn(16, 4))[0].t())
    ep = ExpertParallelMoE.from_layer(layer)
    x = torch.randn(2048, 16, generator=torch.Generator().manual_seed(10 + rank))
    with torch.no_grad():
        out = ep(x)
    return {"indices": out.routing.indices, "exchange": asdict(ep.last_exchange), "n_local": ep.n_local}


SCENARIOS = {"equal": _scenario_equal, "bad": _scenario_bad, "kill": _scenario_kill, "bytes": _scenario_bytes}


def _worker(rank: int, world_size: int, port: int, scenarios: tuple[str, ...], out_dir: str) -> None:
    os.environ["MASTER_ADDR"], os.environ["MASTER_PORT"] = "127.0.0.1", str(port)
    torch.set_num_threads(1)
    try:
        dist.init_process_group(
            "gloo", rank=rank, world_size=world_size, timeout=timedelta(seconds=COLLECTIVE_TIMEOUT_S)
        )
    except Exception as err:  # noqa: BLE001 - reported through the result files like any other failure
        scenarios = ()
        torch.save({"error": type(err).__name__, "message": str(err)}, Path(out_dir) / f"rank{rank}_init.pt")
    for scenario in scenarios:  # one after another on the same group: a clean error leaves it usable
        try:
            result = SCENARIOS[scenario](rank, world_size)
        except Exception as err:  # noqa: BLE001 - the error itself is the result the test checks
            result = {"error": type(err).__name__, "message": str(err)}
        torch.save(result, Path(out_dir) / f"rank{rank}_{scenario}.pt")
    if "kill" in scenarios:  # after a dead peer, tearing down can block, and gloo's exit handlers can abort
        os._exit(0)  # the results are saved; leave without running them
    if dist.is_initialized():
        dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(scenarios: tuple[str, ...], world_size: int, out_dir: Path) -> tuple[list, dict]:
    """Run ``scenarios`` on ``world_size`` fresh processes: exit codes, {scenario: [result or None per rank]}."""
    ctx = mp.get_context("spawn")
    port = _free_port()
    args = (world_size, port, scenarios, str(out_dir))
    procs = [ctx.Process(target=_worker, args=(rank, *args)) for rank in range(world_size)]
    start = time.perf_counter()
    try:
        for p in procs:
            p.start()
        for p in procs:
            p.join(timeout=max(0.1, LAUNCH_DEADLINE_S - (time.perf_counter() - start)))
    finally:
        for p in procs:
            if p.is_alive():
                p.terminate()
                p.join(timeout=5)
            if p.is_alive():
                p.kill()
                p.join(timeout=5)
    files = {s: [out_dir / f"rank{rank}_{s}.pt" for rank in range(world_size)] for s in ("init", *scenarios)}
    results = {s: [torch.load(f) if f.exists() else None for f in fs] for s, fs in files.items()}
    assert results.pop("init") == [None] * world_size, "init_process_group failed"
    return [p.exitcode for p in procs], results


@pytest.fixture(scope="module")
def two_ranks(tmp_path_factory):
    """One 2-rank gloo group runs the comparison, the byte count and the bad configurations in turn."""
    return launch(("equal", "bytes", "bad"), 2, tmp_path_factory.mktemp("two_ranks"))


def _ok(codes: list, results: list) -> bool:
    return all(code == 0 for code in codes) and all(r is not None and "error" not in r for r in results)


# --- the tests ----------------------------------------------------------------------------


def _reference(name: str, world_size: int):
    """The single-process layer run on each rank's tokens in turn: the sum of the ranks' losses."""
    layer, xs, ws, generator = _build(name, world_size)
    inputs = [x.clone().requires_grad_(True) for x in xs]
    outs = [layer(x, generator(rank)) for rank, x in enumerate(inputs)]
    sum((out.out * w).sum() + out.aux_loss for out, w in zip(outs, ws)).backward()
    return layer, outs, [x.grad for x in inputs], [out.routing for out in outs]


@pytest.mark.parametrize("world_size", [2, 1])
def test_same_outputs_and_gradients_as_the_single_process_layer(two_ranks, tmp_path, world_size):
    codes, by_scenario = two_ranks if world_size == 2 else launch(("equal",), 1, tmp_path)
    results = by_scenario["equal"]
    assert _ok(codes, results), results
    for name, (config, _, silent) in CASES.items():
        layer, outs, xgrads, routings = _reference(name, world_size)
        chosen = torch.cat([r.indices[r.kept] for r in routings])
        assert not any(e in chosen.tolist() for e in silent)  # the silent experts really got nothing
        if config.capacity_factor == 0.5:
            assert not bool(torch.cat([r.kept.reshape(-1) for r in routings]).all())  # and some were dropped
        ref_router = _grads(layer.router)
        summed = {n: sum(results[r][name]["router_grad_local"][n] for r in range(world_size)) for n in ref_router}
        for n in ref_router:
            torch.testing.assert_close(summed[n], ref_router[n])
        for rank in range(world_size):
            got = results[rank][name]
            torch.testing.assert_close(got["out"], outs[rank].out.detach())
            torch.testing.assert_close(got["aux"], outs[rank].aux_loss.detach())
            torch.testing.assert_close(got["x_grad"], xgrads[rank])
            for n in ref_router:
                torch.testing.assert_close(got["router_grad_summed"][n], ref_router[n])
            s = slice(got["first_expert"], got["first_expert"] + config.n_experts // world_size)
            for n, grad in got["expert_grads"].items():
                torch.testing.assert_close(grad, getattr(layer.experts, n).grad[s], msg=f"{name}: expert {n}")
    if world_size == 2:  # rank 1 of "silent_rank" received nothing, and says so
        assert results[1]["silent_rank"]["exchange"]["tokens_from_rank"] == (0, 0)


def test_bad_configurations_raise_on_every_rank(two_ranks):
    codes, by_scenario = two_ranks
    results = by_scenario["bad"]
    assert _ok(codes, results), results
    for r in results:
        assert "n_experts=3 must be divisible by the expert-parallel world size 2" in r["divisible"][0]
        assert "differs across the ranks" in r["mismatch"][0] and "k per rank [2.0, 1.0]" in r["mismatch"][0]
        assert r["still_works"] == (5, 4)
    assert "x must be a tensor of shape (..., 4), got (5, 5)" in results[1]["bad_input"][0]
    assert "rank(s) [1] of the group rejected their input" in results[0]["bad_input"][0]
    assert all(
        r[case][1] < COLLECTIVE_TIMEOUT_S / 3 for r in results for case in ("divisible", "mismatch", "bad_input")
    )


def test_a_rank_dying_mid_exchange_fails_the_other_rank_instead_of_hanging(tmp_path):
    codes, by_scenario = launch(("kill",), 2, tmp_path)
    results = by_scenario["kill"]
    assert codes[1] == KILLED_EXIT and results[1] is None
    assert results[0] is not None and results[0]["error"] in ("RuntimeError", "DistBackendError"), results[0]
    assert codes[0] == 0  # rank 0 caught the failure, reported it and exited
    assert results[0]["seconds"] < COLLECTIVE_TIMEOUT_S + 5  # an error within the timeout, not a hang


def test_measured_bytes_match_the_accounting_and_the_cost_model(two_ranks):
    codes, by_scenario = two_ranks
    results = by_scenario["bytes"]
    assert _ok(codes, results), results
    row = 16 * 4  # d_model float32 values per activation
    on_rank = [r["indices"] // r["n_local"] for r in results]  # (T, K) rank holding each chosen expert
    predicted = exchange_bytes(2048, 2, 16, 4, 2)
    for rank, r in enumerate(results):
        sent_away = int((on_rank[rank] != rank).sum())
        came_in = int((on_rank[1 - rank] == rank).sum())
        assert r["exchange"]["bytes_sent"] == (sent_away + came_in) * row  # dispatch + return, exactly
        assert r["exchange"]["bytes_received"] == r["exchange"]["bytes_sent"]
        assert r["exchange"]["tokens_to_rank"][1 - rank] == sent_away
        assert abs(r["exchange"]["bytes_sent"] / predicted - 1) < 0.05
    assert predicted == 2 * 2048 * 2 * 0.5 * row


def test_world_size_one_without_a_process_group():
    assert not dist.is_initialized()
    layer, xs, ws, _ = _build("drops_and_silent_expert", 1)
    ep = ExpertParallelMoE.from_layer(layer)
    assert (ep.world_size, ep.n_local, ep.first_expert) == (1, 4, 0)
    x = xs[0].clone().requires_grad_(True)
    out = ep(x)
    x_ref = xs[0].clone().requires_grad_(True)
    ref = layer(x_ref)
    torch.testing.assert_close(out.out, ref.out)
    (out.out * ws[0]).sum().backward()
    (ref.out * ws[0]).sum().backward()
    torch.testing.assert_close(x.grad, x_ref.grad)
    torch.testing.assert_close(ep.experts.w1.grad, layer.experts.w1.grad)
    assert ep.last_exchange.bytes_sent == 0 == exchange_bytes(13, 2, 6, 8, 1)
    with pytest.raises(ValueError, match="shape"):
        ep(torch.randn(3, 5, dtype=torch.float64))


def test_timings_and_cost_model_validation():
    ep = ExpertParallelMoE(MoEConfig(d_model=4, d_hidden=4, n_experts=2, k=1), timed=True)
    ep(torch.randn(8, 4))
    t = ep.last_timings
    assert min(t.routing_s, t.exchange_s, t.experts_s, t.combine_s) >= 0
    assert t.total_s == pytest.approx(t.routing_s + t.exchange_s + t.experts_s + t.combine_s)
    with pytest.raises(ValueError, match="world_size"):
        exchange_bytes(8, 2, 4, 4, 0)
    with pytest.raises(ValueError, match="kept_fraction"):
        exchange_bytes(8, 2, 4, 4, 2, kept_fraction=1.5)


def test_benchmark_runs_and_reports_at_a_tiny_shape():
    from spark_edu.chapters.moe.expert_parallel_bench import format_report, run_expert_parallel_benchmark

    result = run_expert_parallel_benchmark(tokens=64, d_model=8, d_hidden=8, n_experts=4, repeats=1, warmup=0)
    json.dumps(result)  # JSON-able
    assert [run["world_size"] for run in result["runs"]] == [1, 2]
    single, pair = result["runs"]
    assert single["bytes_sent_per_rank"] == single["predicted_bytes_per_rank"] == 0
    assert pair["predicted_bytes_per_rank"] == exchange_bytes(64, 2, 8, 4, 2)
    assert 0.5 < pair["measured_over_predicted"] < 1.5  # 128 assignments per rank: a loose check only
    assert all(ms >= 0 for run in result["runs"] for ms in run["median_ms"].values())
    report = format_report(result)
    assert [row[:2] for row in report.rows] == [[1, 4], [2, 2]] and report.rows[0][-1] is None
    text = repr(report).splitlines()
    assert text[2].split()[:3] == ["W", "E/rank", "thr"] and text[-2].startswith("cost model")
    with pytest.raises(ValueError, match="divide n_experts"):
        run_expert_parallel_benchmark(world_sizes=(3,), n_experts=4)
