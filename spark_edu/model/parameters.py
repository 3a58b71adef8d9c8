"""Where the SPaR-K model's parameters sit, beside the original prototype's count (643,272).

:func:`original_breakdown` recomputes the original's count layer by layer from its shapes;
:func:`parameter_breakdown` counts ours the same way, and :func:`parameter_table` prints both.
"""

from __future__ import annotations

from spark_edu.model.spark import SparkTransformer
from spark_edu.spd.router import SPDRouter
from spark_edu.transformer import count_parameters


def _linear(n_in: int, n_out: int, bias: bool = True) -> int:
    return n_in * n_out + (n_out if bias else 0)


def original_breakdown(d: int = 128, vocab: int = 50, max_len: int = 64, n_layers: int = 2) -> dict[str, int]:
    """The original model's parameters per module, recounted from the layer shapes in its code.

    Per layer: LayerNorms 2·2d; SPD router 93,408 at d=128 (same shapes as ours); FK attention
    q, k, v without bias + output with bias; FFN d→4d→d; verifier head = controller d→d/2→3,
    one element encoder d→d/2 ("balanced_parens"), one verification head (d + d/2)→d/4→1.
    """
    h, e, q = d // 2, d // 2, d // 4
    verifier = _linear(d, h) + _linear(h, 3) + _linear(d, e) + _linear(d + e, q) + _linear(q, 1)
    spd = count_parameters(SPDRouter(d))
    rows = {
        "token embedding": vocab * d,
        "position embedding": max_len * d,
        "layer norms (per layer)": 2 * 2 * d,
        "SPD router (per layer)": spd,
        "attention (per layer)": 3 * _linear(d, d, bias=False) + _linear(d, d),
        "feed-forward (per layer)": _linear(d, 4 * d) + _linear(4 * d, d),
        "verifier head (per layer)": verifier,
        "final layer norm": 2 * d,
        "output head (tied)": 0,
    }
    per_layer = sum(v for k, v in rows.items() if "per layer" in k)
    rows["total"] = sum(v for k, v in rows.items() if "per layer" not in k) + n_layers * per_layer
    return rows


def parameter_breakdown(model: SparkTransformer) -> dict[str, int]:
    """This model's parameters per module, in the rows of :func:`original_breakdown`."""
    block = model.blocks[0]
    n = lambda m: 0 if m is None else count_parameters(m)  # noqa: E731
    rows = {
        "token embedding": n(model.tok_emb),
        "position embedding": n(model.pos_emb),
        "layer norms (per layer)": n(block.ln1) + n(block.ln2),
        "SPD router (per layer)": n(block.spd) + n(block.spd_norm),
        "attention (per layer)": n(block.attn),
        "feed-forward (per layer)": n(block.mlp),
        "verifier head (per layer)": n(block.verifier) + n(block.verifier_out),
        "final layer norm": n(model.ln_f),
        "output head (tied)": 0 if model.head.weight is model.tok_emb.weight else n(model.head),
    }
    rows["total"] = count_parameters(model)
    return rows


#: Why a row of the table can differ from the original.
NOTES = {
    "attention (per layer)": (
        "same shapes (q, k, v without bias, output with bias); ours is causal, the original had no mask"
    ),
    "feed-forward (per layer)": "same shapes; GELU instead of ReLU, which has no parameters",
    "verifier head (per layer)": (
        "ours: controller d→d/2→3, value d→M (M=8), read-out over [h; top; depth], and "
        "W_r (M+3→d) writing into the stream; the original: controller d→d/2→3, one "
        "element encoder d→d/2, one sigmoid head (d+d/2)→d/4→1, nothing written back"
    ),
    "output head (tied)": (
        "the head shares the token embedding's weight (no bias): listing it as 6,400 more "
        "counts that matrix twice; parameters() counts it once"
    ),
}


def parameter_table(model: SparkTransformer, original: dict[str, int] | None = None) -> str:
    """Fixed-width table of :func:`parameter_breakdown` beside :func:`original_breakdown`, with notes."""
    ours = parameter_breakdown(model)
    original = original_breakdown() if original is None else original
    lines = [f"{'module':<27}{'ours':>9}{'original':>10}{'diff':>8}", "-" * 54]
    marks = {}
    for key, value in ours.items():
        mark = ""
        if key in NOTES:
            marks.setdefault(key, f"[{len(marks) + 1}]")
            mark = " " + marks[key]
        lines.append(f"{key:<27}{value:>9,}{original[key]:>10,}{value - original[key]:>+8,}{mark}")
    lines.append("")
    lines += [f"{m} {NOTES[k]}" for k, m in marks.items()]
    return "\n".join(lines)
