"""Figures of the expert-parallel section: which token goes where in a real run, and how data,
expert and tensor parallelism lay a model out over devices.

``plot_exchange(result)`` draws a :func:`~spark_edu.chapters.moe.expert_parallel_bench.run_expert_parallel_benchmark`
result (run with ``record_tokens``): left, each rank's first tokens and the rank each of their K
choices is sent to; right, the assignments sent from every rank to every rank (the diagonal stays
home). ``plot_parallel_layout(tp, ep, dp)`` draws the device grid of the three combined.
"""

from __future__ import annotations

import torch

from spark_edu.plots import plot_matrix, subplots

RANK_COLORS = ("#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860", "#da8bc3", "#8c8c8c")


def _run_of(result: dict, world_size: int | None) -> dict:
    runs = {run["world_size"]: run for run in result["runs"] if not run.get("baseline")}
    w = max(runs) if world_size is None else world_size
    if w not in runs:
        raise ValueError(f"world_size must be one of the result's world sizes {sorted(runs)}, got {world_size!r}")
    if w > len(RANK_COLORS):
        raise ValueError(f"world_size must be at most {len(RANK_COLORS)} to draw, got {w}")
    return runs[w]


def send_matrix(run: dict) -> torch.Tensor:
    """(W, W) assignments rank i sent to rank j in one forward (i = j: stays on its rank)."""
    return torch.tensor([rank["tokens_to_rank"] for rank in sorted(run["per_rank"], key=lambda r: r["rank"])])


def destinations(run: dict) -> torch.Tensor:
    """(W, n, K) rank that receives each recorded token's k-th choice; −1 where it was dropped."""
    per_rank = sorted(run["per_rank"], key=lambda r: r["rank"])
    experts = torch.tensor([r["first_tokens"]["experts"] for r in per_rank])  # (W, n, K)
    kept = torch.tensor([r["first_tokens"]["kept"] for r in per_rank])  # (W, n, K)
    if experts.numel() == 0:
        raise ValueError("the result records no tokens: run the benchmark with record_tokens > 0")
    return torch.where(kept, experts // run["experts_per_rank"], torch.full_like(experts, -1))


def plot_exchange(result: dict, world_size: int | None = None):
    """Token → rank assignments and the rank-pair send counts of one world size (default: the largest)."""
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Rectangle

    run = _run_of(result, world_size)
    W, E_l = run["world_size"], run["experts_per_rank"]
    dest = destinations(run)  # (W, n, K)
    _, n, K = dest.shape
    per_rank = sorted(run["per_rank"], key=lambda r: r["rank"])
    experts = torch.tensor([r["first_tokens"]["experts"] for r in per_rank])  # (W, n, K)
    fig, axes = subplots(1, 2, width=3.6, height=0.9 + 0.3 * W * K, gridspec_kw={"width_ratios": [1.7, 1]})
    ax = axes[0, 0]
    grid = dest.permute(0, 2, 1).reshape(W * K, n).float()  # row r·K + j: rank r's j-th choices
    cmap = ListedColormap(["#ffffff", *RANK_COLORS[:W]])
    ax.imshow((grid + 1).numpy(), cmap=cmap, vmin=-0.5, vmax=W + 0.5, aspect="auto", interpolation="nearest")
    ax.grid(False)
    for r in range(W):
        for j in range(K):
            for t in range(n):
                e = int(experts[r, t, j])
                ax.text(t, r * K + j, str(e), ha="center", va="center", fontsize=7, color="white")
        if r:
            ax.axhline(r * K - 0.5, color="black", lw=1.5)
    ax.set_xticks(range(n))
    ax.set_yticks(range(W * K), [f"rank {r}, choice {j + 1}" for r in range(W) for j in range(K)], fontsize=8)
    for label, r in zip(ax.get_yticklabels(), [r for r in range(W) for _ in range(K)]):
        label.set_color(RANK_COLORS[r])  # the row's own rank: a cell of this colour stays home
    ax.set(
        xlabel="token on its own rank",
        title=f"where each token's choices go (number: expert,\ncolour: the rank holding it, {E_l} experts per rank)",
    )
    ax.title.set_fontsize(9)
    matrix = send_matrix(run)
    ax = axes[0, 1]
    plot_matrix(
        ax, matrix, "", cmap="Blues", vmin=0, xlabel="to rank (holds the expert)", ylabel="from rank", colorbar=False
    )
    dark = 0.6 * float(matrix.max())
    for i in range(W):
        for j in range(W):
            value = int(matrix[i, j])
            ax.text(j, i, str(value), ha="center", va="center", fontsize=9, color="white" if value > dark else "black")
        ax.add_patch(Rectangle((i - 0.5, i - 0.5), 1, 1, fill=False, lw=2, ls="--", color="black"))
    ax.set_xticks(range(W))
    ax.set_yticks(range(W))
    tokens = result["config"]["tokens"]
    ax.set_title(f"assignments sent, all {tokens} tokens\nper rank (dashed: stays home)", fontsize=9)
    return fig


def layout(tp: int, ep: int, dp: int) -> list[tuple[int, int, int]]:
    """(dp, ep, tp) coordinates of each global rank: tensor parallel innermost, then expert, then data."""
    for name, value in (("tp", tp), ("ep", ep), ("dp", dp)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    return [(rank // (tp * ep), rank // tp % ep, rank % tp) for rank in range(tp * ep * dp)]


def plot_parallel_layout(tp: int = 2, ep: int = 4, dp: int = 2, devices_per_node: int = 8, n_experts: int = 8):
    """The device grid of ``tp × ep × dp`` devices: colour = the experts a device holds (its EP
    index), label = those experts and its tensor-parallel shard, black outline = the devices of the
    first all_to_all group (DP index 0, TP shard 0); one row per node of ``devices_per_node``."""
    from matplotlib.patches import Rectangle

    coords = layout(tp, ep, dp)
    if n_experts % ep:
        raise ValueError(f"n_experts={n_experts} must be divisible by ep={ep}")
    check = devices_per_node >= 1 and isinstance(devices_per_node, int)
    if not check:
        raise ValueError(f"devices_per_node must be an integer >= 1, got {devices_per_node!r}")
    nodes = -(-len(coords) // devices_per_node)
    fig, axes = subplots(1, 1, width=min(8.0, 0.78 * devices_per_node + 0.9), height=0.6 + 0.72 * nodes)
    ax = axes[0, 0]
    per = n_experts // ep
    for rank, (_, e, t) in enumerate(coords):
        node, slot = divmod(rank, devices_per_node)
        y = nodes - 1 - node
        ax.add_patch(Rectangle((slot + 0.06, y + 0.1), 0.88, 0.72, color=RANK_COLORS[e % len(RANK_COLORS)]))
        label = f"e{e * per}–{(e + 1) * per - 1}" if per > 1 else f"e{e}"
        ax.text(slot + 0.5, y + 0.46, f"{label}\nTP{t}", ha="center", va="center", fontsize=8, color="white")
    group = [r for r, (d, e, t) in enumerate(coords) if d == 0 and t == 0]  # the first all_to_all group
    for rank in group:
        node, slot = divmod(rank, devices_per_node)
        ax.add_patch(Rectangle((slot + 0.06, nodes - 1 - node + 0.1), 0.88, 0.72, fill=False, lw=2, color="black"))
    for node in range(nodes):
        ax.text(-0.1, nodes - 1 - node + 0.46, f"node {node}", ha="right", va="center", fontsize=8)
    ax.set(xlim=(-1.2, devices_per_node), ylim=(-0.05, nodes), xticks=[], yticks=[])
    ax.grid(False)
    for side in ("left", "bottom"):
        ax.spines[side].set_visible(False)
    ax.set_title(
        f"TP={tp} × EP={ep} × DP={dp} (e: experts held, TP: tensor shard)\n"
        f"same colour: same experts; black outline: one all_to_all group",
        fontsize=9,
    )
    return fig


__all__ = ["destinations", "layout", "plot_exchange", "plot_parallel_layout", "send_matrix"]
