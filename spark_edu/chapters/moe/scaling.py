"""What expert parallelism would cost at 8, 64 and 256 devices: a model, not a measurement.

Weak scaling: every device routes ``tokens_per_device`` tokens T and holds E/W of the experts.
With routing uniform over experts, each device runs about T·K·kept assignments through its
experts whatever W is, so the expert compute per device stays

    t_experts = 4·T·K·kept·D·F / expert_flops_per_s                       (spark_edu.moe.expert_flops)

while the exchange grows with the share of assignments whose expert lives elsewhere, (W − 1)/W
(eq-moe-ep-bytes, :func:`~spark_edu.moe.expert_parallel.exchange_bytes`):

    bytes_sent = 2·T·K·kept·D·b·(W − 1)/W          (dispatch + return; backward sends as much again)

Devices sit in nodes of ``devices_per_node`` G. Of a device's W − 1 peers, min(W, G) − 1 are in
its node (fast links, ``node_link_GBps``) and W − min(W, G) are not (the network, ``link_GBps``
per device). Each of the two all_to_alls (dispatch, return) moves half of ``bytes_sent``; the two
tiers run side by side, so one all_to_all takes the slower tier's bytes over its bandwidth, plus
a latency α (``latency_us``) for each of the W − 1 peer messages, counted one after another (the
pessimistic end: real collectives overlap some of them)::

    t_exchange = 2 · [ max(V_node / B_node, V_net / B_net) + α·(W − 1) ],   V = bytes of one all_to_all

Nothing here overlaps the exchange with compute, and nothing models congestion, stragglers or
uneven routing: read the table as the shape of the problem, not as a prediction.
"""

from __future__ import annotations

from spark_edu.display import Table
from spark_edu.moe.expert_parallel import exchange_bytes
from spark_edu.moe.layer import expert_flops
from spark_edu.validation import check_positive_int, check_range

COLUMNS = (  # key, column title, format spec; the titles are short so the table fits a book page
    ("devices", "W", "d"),
    ("remote_share", "expert elsewhere", ".0%"),
    ("network_share", "via network", ".0%"),
    ("mb_sent", "MB sent", ".1f"),
    ("kb_per_message", "KB per message", ".0f"),
    ("exchange_ms", "exchange ms", ".2f"),
    ("latency_ms", "latency ms", ".2f"),
    ("experts_ms", "experts ms", ".2f"),
    ("exchange_over_experts", "exchange / experts", ".2f"),
)


def scaling_table(
    devices=(8, 64, 256),
    tokens_per_device: int = 4096,
    d_model: int = 4096,
    d_hidden: int = 14336,
    k: int = 2,
    bytes_per_element: int = 2,
    link_GBps: float = 50.0,
    node_link_GBps: float = 450.0,
    devices_per_node: int = 8,
    expert_flops_per_s: float = 400e12,
    latency_us: float = 5.0,
    kept_fraction: float = 1.0,
) -> list[dict]:
    """One MoE layer's forward per device at each W in ``devices``: one dict per W (see the module).

    Defaults: T = 4096 tokens, D = 4096, F = 14336, top-2, bf16 (2 bytes), nodes of 8 devices
    joined inside by 450 GB/s and to the network by 50 GB/s per device, experts at 400 TFLOP/s,
    α = 5 µs. Every value is an assumption to change, not a property of any machine.
    """
    if not devices:
        raise ValueError("devices must name at least one device count, got ()")
    for w in devices:
        check_positive_int("devices entry", w)
    for name, value in (("tokens_per_device", tokens_per_device), ("d_model", d_model), ("d_hidden", d_hidden)):
        check_positive_int(name, value)
    check_positive_int("k", k)
    check_positive_int("bytes_per_element", bytes_per_element)
    check_positive_int("devices_per_node", devices_per_node)
    for name, value in (
        ("link_GBps", link_GBps),
        ("node_link_GBps", node_link_GBps),
        ("expert_flops_per_s", expert_flops_per_s),
    ):
        check_range(name, value, 0.0, low_inclusive=False)
    check_range("latency_us", latency_us, 0.0)
    check_range("kept_fraction", kept_fraction, 0.0, 1.0)
    T, K, D = tokens_per_device, k, d_model
    experts_s = expert_flops(T * K * kept_fraction, D, d_hidden) / expert_flops_per_s
    rows = []
    for w in devices:
        sent = exchange_bytes(T, K, D, bytes_per_element, w, kept_fraction)  # dispatch + return, eq-moe-ep-bytes
        in_node = min(w, devices_per_node) - 1  # peers on fast links
        on_net = w - 1 - in_node  # peers across the network
        per_peer = sent / 2 / (w - 1) if w > 1 else 0.0  # bytes of one message of one all_to_all
        bandwidth_s = max(per_peer * in_node / (node_link_GBps * 1e9), per_peer * on_net / (link_GBps * 1e9))
        latency_s = latency_us * 1e-6 * (w - 1)
        exchange_s = 2 * (bandwidth_s + latency_s)
        rows.append(
            {
                "devices": w,
                "remote_share": (w - 1) / w,
                "network_share": on_net / w,
                "mb_sent": sent / 1e6,
                "kb_per_message": per_peer / 1e3,
                "exchange_ms": 1e3 * exchange_s,
                "latency_ms": 1e3 * 2 * latency_s,
                "experts_ms": 1e3 * experts_s,
                "exchange_over_experts": exchange_s / experts_s,
            }
        )
    return rows


def format_scaling(rows: list[dict]) -> Table:
    """The rows as a book table (HTML in the page, fixed-width text in ``print``)."""
    table_rows = [[row[key] for key, _, _ in COLUMNS] for row in rows]
    return Table(table_rows, [title for _, title, _ in COLUMNS], {title: spec for _, title, spec in COLUMNS})


__all__ = ["COLUMNS", "format_scaling", "scaling_table"]
