"""The expert-parallel section of the MoE chapter: ``python -m spark_edu bench moe-parallel`` (its
options, its one-line errors, a tiny run in-process and through a fresh interpreter as the notebook
launches it), the 8/64/256-device cost model against a hand computation, and the figures."""

import json
import math

import pytest
from matplotlib.figure import Figure

from spark_edu.__main__ import build_parser, main
from spark_edu.chapters.moe.commands import PARALLEL_HELP, parallel_command, run_parallel_in_subprocess
from spark_edu.chapters.moe.expert_parallel_bench import saved_expert_parallel, speedups
from spark_edu.chapters.moe.parallel_figures import (
    destinations,
    layout,
    plot_exchange,
    plot_parallel_layout,
    send_matrix,
)
from spark_edu.chapters.moe.scaling import format_scaling, scaling_table

TINY = ["--tokens", "32", "--d-model", "8", "--d-hidden", "8", "--n-experts", "4", "--repeats", "1", "--warmup", "0"]


def _leaf(words):
    parser = build_parser()
    for word in words:
        sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
        parser = sub.choices[word]
    return parser


def test_the_command_documents_every_option(capsys):
    parser = _leaf(["bench", "moe-parallel"])
    options = {a.dest: a for a in parser._actions if a.dest != "help"}
    assert set(PARALLEL_HELP) | {"world_sizes", "capacity_factor", "timeout_s", "device", "out"} <= set(options)
    assert all(action.help for action in options.values())
    assert options["out"].default is None and options["world_sizes"].default == [1, 2]
    with pytest.raises(SystemExit) as exit_info:
        main(["bench", "moe-parallel", "--help"])
    assert exit_info.value.code == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "--world-sizes W [W ...]" in out and "(default: [1, 2])" in out and "(default: none)" in out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--world-sizes", "3"], "every world size must divide n_experts=8, got 3"),
        (["--tokens", "0"], "tokens must be an integer >= 1, got 0"),
        (["--warmup", "-1"], "warmup must be an integer >= 0, got -1"),
        (["--capacity-factor", "abc"], "capacity_factor must be a positive number or 'none', got 'abc'"),
        (["--capacity-factor", "-1"], "capacity_factor must lie in (0.0, inf], got -1.0"),
        (["--timeout-s", "0"], "timeout_s must lie in (0.0, inf], got 0.0"),
        (["--k", "9"], "k"),
    ],
)
def test_a_bad_value_exits_2_with_one_error_line(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:  # rejected before any process starts
        main(["bench", "moe-parallel", *argv])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("python -m spark_edu bench moe-parallel: error: ") and message in err[-1]
    assert sum("error:" in line for line in err) == 1


def test_cuda_without_enough_gpus_is_a_clean_error(capsys):
    import torch

    if torch.cuda.device_count() >= 2:
        pytest.skip("this machine has the GPUs")
    with pytest.raises(SystemExit) as exit_info:
        main(["bench", "moe-parallel", "--device", "cuda", *TINY])
    assert exit_info.value.code == 2
    assert "needs one GPU per rank" in capsys.readouterr().err.strip().splitlines()[-1]


def test_a_tiny_run_reports_phases_bytes_and_the_cost_model(tmp_path, capsys):
    out = tmp_path / "ep.json"
    assert main(["bench", "moe-parallel", *TINY, "--baseline-threads", "1", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    result = json.loads(out.read_text())
    assert [(r["world_size"], r["baseline"]) for r in result["runs"]] == [(1, False), (2, False), (1, True)]
    pair = result["runs"][1]
    assert set(pair["median_ms"]) == {"total", "routing", "exchange", "experts", "combine"}
    assert pair["predicted_bytes_per_rank"] == 2 * 32 * 2 * 0.5 * 8 * 4  # 2·T·K·(W−1)/W·D·b
    assert pair["measured_over_predicted"] == pytest.approx(pair["bytes_sent_per_rank"] / (2 * 32 * 2 * 0.5 * 8 * 4))
    assert "cost model (eq-moe-ep-bytes)" in printed and "ratio = measured / model" in printed
    assert "throughput over W=1: W=2" in printed and "wall time" in printed
    assert set(speedups(result)) == {"W=2", "W=2 vs baseline"}
    assert parallel_command(result) == (
        "python -m spark_edu bench moe-parallel --tokens 32 --d-model 8 --d-hidden 8 --n-experts 4 "
        "--repeats 1 --warmup 0 --baseline-threads 1"
    )


def test_the_notebook_launch_path_and_the_exchange_figure():
    """Through a fresh ``python -m spark_edu`` (what the chapter does), every token recorded."""
    result = run_parallel_in_subprocess(world_sizes=(2,), record_tokens=32, **_tiny_options())
    assert result["command"].startswith("python -m spark_edu bench moe-parallel --world-sizes 2 ")
    assert result["subprocess_s"] > 0
    run = result["runs"][0]
    dest = destinations(run)  # (W, T, K): every token recorded, so the counts must match the exchange's
    assert tuple(dest.shape) == (2, 32, 2)
    for rank in range(2):
        counted = [int((dest[rank] == j).sum()) for j in range(2)]
        assert counted == run["per_rank"][rank]["tokens_to_rank"] == send_matrix(run)[rank].tolist()
    fig = plot_exchange(result)
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    with pytest.raises(ValueError, match="world_size must be one of"):
        plot_exchange(result, world_size=4)
    with pytest.raises(RuntimeError, match="failed"):
        run_parallel_in_subprocess(world_sizes=(3,), **_tiny_options())


def _tiny_options() -> dict:
    return {TINY[i][2:].replace("-", "_"): int(TINY[i + 1]) for i in range(0, len(TINY), 2)}


def test_the_scaling_model_against_a_hand_computation():
    rows = scaling_table(
        devices=(1, 8, 64),
        tokens_per_device=1000,
        d_model=100,
        d_hidden=400,
        k=2,
        bytes_per_element=2,
        link_GBps=10.0,
        node_link_GBps=100.0,
        devices_per_node=8,
        expert_flops_per_s=1e12,
        latency_us=10.0,
    )
    one, node, many = rows
    volume = 2 * 1000 * 2 * 100 * 2  # 2·T·K·D·b = 800 kB: every assignment there and back
    experts_ms = 1e3 * 4 * 1000 * 2 * 100 * 400 / 1e12  # 4·T·K·D·F FLOPs at 1 TFLOP/s = 0.32 ms
    assert one["mb_sent"] == 0 and one["exchange_ms"] == 0 and one["experts_ms"] == pytest.approx(experts_ms)
    # 8 devices, one node: 7/8 of the volume, all on the fast links; 7 peer messages per all_to_all
    sent = volume * 7 / 8
    assert node["mb_sent"] == pytest.approx(sent / 1e6) and node["network_share"] == 0
    per_peer = sent / 2 / 7
    assert node["kb_per_message"] == pytest.approx(per_peer / 1e3)
    assert node["exchange_ms"] == pytest.approx(1e3 * 2 * (7 * per_peer / 100e9 + 7 * 10e-6))
    # 64 devices: 7 peers in the node, 56 across the network; the network is the slower tier
    sent = volume * 63 / 64
    per_peer = sent / 2 / 63
    network = 56 * per_peer / 10e9
    assert network > 7 * per_peer / 100e9
    assert many["exchange_ms"] == pytest.approx(1e3 * 2 * (network + 63 * 10e-6))
    assert many["latency_ms"] == pytest.approx(1e3 * 2 * 63 * 10e-6)
    assert many["network_share"] == pytest.approx(56 / 64) and many["remote_share"] == pytest.approx(63 / 64)
    assert many["exchange_over_experts"] == pytest.approx(many["exchange_ms"] / experts_ms)
    table = repr(format_scaling(rows)).splitlines()
    assert len(table) == 5 and table[0].split()[:3] == ["W", "expert", "elsewhere"]
    assert table[4].split()[:3] == ["64", "98%", "88%"]
    html = format_scaling(rows)._repr_html_()
    assert html.count("<tr>") == 4 and '<td class="num">98%</td>' in html
    default = scaling_table()
    assert [r["devices"] for r in default] == [8, 64, 256]
    assert all(math.isfinite(v) for r in default for v in r.values())
    for bad in ({"devices": ()}, {"devices": (0,)}, {"link_GBps": 0.0}, {"latency_us": -1.0}, {"k": 0}):
        with pytest.raises(ValueError, match=next(iter(bad)).split("_")[0]):
            scaling_table(**bad)


def test_the_parallel_layout_figure():
    coords = layout(tp=2, ep=4, dp=2)
    assert coords[0] == (0, 0, 0) and coords[1] == (0, 0, 1) and coords[2] == (0, 1, 0) and coords[8] == (1, 0, 0)
    assert len(set(coords)) == 16
    fig = plot_parallel_layout(tp=2, ep=4, dp=2)
    assert isinstance(fig, Figure)
    with pytest.raises(ValueError, match="tp"):
        layout(tp=0, ep=1, dp=1)
    with pytest.raises(ValueError, match="n_experts"):
        plot_parallel_layout(ep=3)


def test_the_saved_run_is_there_and_consistent():
    saved = saved_expert_parallel()
    runs = [r for r in saved["runs"] if not r["baseline"]]
    assert [r["world_size"] for r in runs] == saved["config"]["world_sizes"] == [1, 2]
    assert all(p >= 0 for r in saved["runs"] for p in r["median_ms"].values())
    assert 0.9 < runs[1]["measured_over_predicted"] < 1.1  # 8192 assignments per rank, uniform-ish routing
    assert parallel_command(saved).startswith("python -m spark_edu bench moe-parallel")
