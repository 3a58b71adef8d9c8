"""The SPaR-K model: one transformer block with FK attention, an SPD router and a verifier head.

SPaR-K (Madhusudanan, 2025) puts the book's three components into a pre-LN transformer
block (Vaswani et al., 2017). Each one can be switched off, which turns the block back
into the standard one of :mod:`spark_edu.transformer` (eq-spark-block)::

    a  = LN₁(x);   a ← W(a, SPD(a)), L_sep     if "spd"       (eq-spd-router)
    x ← x + Attn(a)                             FK if "fk"     (eq-fk-series), else softmax
    h  = LN₂(x);   x ← x + W_r [s_t ; d_t ; ℓ_t]   if "verifier"   (eq-verifier-stack)
    x ← x + MLP(h)

where the wiring ``W`` (``spd_wiring``) is the original's ``"replace"`` (``a ← SPD(a)``: the
router's output is the attention's only input), ``"residual"`` (``a ← a + SPD(a)``, the router
used like an MLP, as its own docstring suggests) or ``"residual_ln"`` (``a ← LN(a + SPD(a))``,
with one more LayerNorm). The model is token + position embeddings, ``n_layers`` such blocks, a final LayerNorm
and an output head tied to the token embedding, initialised as the original was (N(0, 0.02)).
Nothing here re-implements a component: the block holds a :class:`spark_edu.fk_attention.FKAttention`, a
:class:`spark_edu.spd.router.SPDRouter` and a :class:`spark_edu.verifier.VerifierHead`, and
the model is a :class:`spark_edu.transformer.Transformer` whose blocks are wrapped.

The verifier term is this book's choice: the original head only emitted a side loss that
pushed a sigmoid towards 0.5, so nothing it computed reached the next-token prediction.
Here its stack read-out — the top slot after step t (``s_t``), the stack depth ``d_t`` and
the prefix logit ``ℓ_t`` — is written back into the residual stream through one linear map
``W_r``, so the next-token loss trains the stack. All three are causal: they depend on
positions ≤ t only.

Dimension letters: B batch, T sequence, C model width, V vocabulary, M stack element width.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
from torch import nn

from spark_edu.fk_attention import FKAttention, FKConfig
from spark_edu.spd.router import SPDRouter
from spark_edu.transformer import Block, Transformer, TransformerConfig, count_parameters, standard_attention
from spark_edu.validation import check_positive_int, check_range
from spark_edu.verifier import VerifierHead

COMPONENTS = ("fk", "spd", "verifier")
SPD_WIRINGS = ("replace", "residual", "residual_ln")  # how the router's output reaches the attention


@dataclass(frozen=True)
class SparkConfig:
    """A SPaR-K model; CPU-sized defaults. ``PRESETS["original"]`` is the report's model."""

    vocab_size: int = 50
    d_model: int = 64
    n_heads: int = 4
    n_layers: int = 2
    max_len: int = 64
    d_ff: int | None = None  # default 4 * d_model
    components: tuple[str, ...] = COMPONENTS  # any subset of COMPONENTS; () = standard transformer
    beta: float = 0.3  # FK hop discount, |beta| < 1
    n_terms: int | None = 5  # FK path-series hops; None = exact resolvent
    fk_normalize: bool = False  # the original did not rescale by (1 - beta)
    separation_strength: float = 0.05  # SPD router's lambda inside eq-spd-separation
    separation_weight: float = 0.05  # weight of the summed separation losses in the total loss
    spd_wiring: str = "replace"  # one of SPD_WIRINGS; "replace" is the original's
    stack_size: int = 16
    element_dim: int = 8  # verifier stack element width M
    causal: bool = True  # False reproduces the original, whose next-token model could see the next token
    tie_embeddings: bool = True  # output head = token embedding (no bias), as in the original

    def __post_init__(self):
        object.__setattr__(self, "components", tuple(self.components))
        unknown = [c for c in self.components if c not in COMPONENTS]
        if unknown or len(set(self.components)) != len(self.components):
            raise ValueError(f"components must be distinct names from {COMPONENTS}, got {self.components!r}")
        check_range("separation_weight", self.separation_weight, 0.0)
        if self.spd_wiring not in SPD_WIRINGS:
            raise ValueError(f"spd_wiring must be one of {SPD_WIRINGS}, got {self.spd_wiring!r}")
        check_positive_int("stack_size", self.stack_size)
        check_positive_int("element_dim", self.element_dim)
        self.transformer_config()  # validates sizes
        FKConfig(self.beta, self.n_terms, self.fk_normalize, self.causal)  # |beta| < 1, n_terms >= 0
        check_range("separation_strength", self.separation_strength, 0.0)

    def uses(self, component: str) -> bool:
        if component not in COMPONENTS:
            raise ValueError(f"component must be one of {COMPONENTS}, got {component!r}")
        return component in self.components

    def with_components(self, *components: str) -> SparkConfig:
        """The same model with exactly ``components`` switched on."""
        return replace(self, components=tuple(components))

    def transformer_config(self) -> TransformerConfig:
        return TransformerConfig(
            vocab_size=self.vocab_size,
            d_model=self.d_model,
            n_heads=self.n_heads,
            n_layers=self.n_layers,
            max_len=self.max_len,
            d_ff=self.d_ff,
            causal=self.causal,
            out_dim=self.vocab_size,
        )


#: Read from the original's ``end_to_end_test.py``: vocabulary 50, d 128, 2 layers, 4 heads,
#: max length 64, beta 0.3 with 5 path terms (unnormalised), separation strength 0.05, one
#: stack of 16. Only ``causal`` differs: the original used no mask at all.
PRESETS = {
    "original": SparkConfig(d_model=128),
    "tiny": SparkConfig(vocab_size=12, d_model=16, n_heads=2, n_layers=1, max_len=16, stack_size=4, element_dim=4),
}


def preset(name: str, **changes) -> SparkConfig:
    """A named configuration, optionally with fields changed (``preset("original", causal=False)``)."""
    if name not in PRESETS:
        raise ValueError(f"preset must be one of {sorted(PRESETS)}, got {name!r}")
    return replace(PRESETS[name], **changes)


class SparkBlock(nn.Module):
    """eq-spark-block around a standard :class:`spark_edu.transformer.Block` (its LNs, attention, MLP).

    After each forward, ``self.aux`` holds ``separation_loss`` (a tensor, 0 without SPD) and
    ``verifier`` (the :class:`spark_edu.verifier.VerifierOutput`, or None).
    """

    def __init__(self, block: Block, config: SparkConfig):
        super().__init__()
        self.ln1, self.attn, self.ln2, self.mlp = block.ln1, block.attn, block.ln2, block.mlp
        C = config.d_model
        self.spd = SPDRouter(C, separation_strength=config.separation_strength) if config.uses("spd") else None
        self.spd_wiring = config.spd_wiring
        self.spd_norm = nn.LayerNorm(C) if self.spd is not None and config.spd_wiring == "residual_ln" else None
        if config.uses("verifier"):
            self.verifier = VerifierHead(C, config.stack_size, config.element_dim)
            self.verifier_out = nn.Linear(config.element_dim + 3, C)  # W_r: [s_t ; d_t ; ℓ_t] -> C
        else:
            self.verifier = self.verifier_out = None
        self.aux: dict = {}

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        a = self.ln1(x)  # (B, T, C)
        separation = x.new_zeros(())
        if self.spd is not None:
            routed, separation = self.spd(a)  # (B, T, C), ()
            a = routed if self.spd_wiring == "replace" else a + routed  # (B, T, C)
            if self.spd_norm is not None:
                a = self.spd_norm(a)  # (B, T, C)
        x = x + self.attn(a, mask)  # (B, T, C)
        h = self.ln2(x)  # (B, T, C)
        out = None
        if self.verifier is not None:
            out = self.verifier(h)
            top = out.stacks[:, :, 0]  # (B, T, M+1): top slot after step t
            read = torch.cat([top, out.stack_depth[..., None], out.step_logits[..., None]], dim=-1)  # (B, T, M+3)
            x = x + self.verifier_out(read)  # (B, T, C)
        self.aux = {"separation_loss": separation, "verifier": out}
        return x + self.mlp(h)  # (B, T, C)


def _attention_factory(config: SparkConfig):
    def factory(tconfig: TransformerConfig, layer: int) -> nn.Module:
        if config.uses("fk"):
            return FKAttention(
                config.d_model,
                config.n_heads,
                config.beta,
                config.n_terms,
                causal=config.causal,
                normalize=config.fk_normalize,
            )
        return standard_attention(tconfig, layer)

    return factory


def _init_weights(module: nn.Module) -> None:
    """The original's (GPT-style) initialisation: N(0, 0.02) weights, zero biases.

    Needed with a tied head: PyTorch's N(0, 1) embedding would make the first logits ~√C
    large (a first loss near 85 instead of ln V ≈ 3.9).
    """
    if isinstance(module, (nn.Linear, nn.Embedding)):
        nn.init.normal_(module.weight, mean=0.0, std=0.02)
        if getattr(module, "bias", None) is not None:
            nn.init.zeros_(module.bias)


class SparkTransformer(Transformer):
    """:class:`spark_edu.transformer.Transformer` with :class:`SparkBlock` blocks.

    ``forward(tokens (B, T))`` returns logits (B, T, V) and validates the ids and length;
    :meth:`separation_loss` sums the routers' losses of the last forward.
    """

    def __init__(self, config: SparkConfig):
        super().__init__(config.transformer_config(), _attention_factory(config))
        self.spark_config = config
        self.blocks = nn.ModuleList(SparkBlock(block, config) for block in self.blocks)
        if config.tie_embeddings:
            self.head = nn.Linear(config.d_model, config.vocab_size, bias=False)
            self.head.weight = self.tok_emb.weight  # shared: counted once
        self.apply(_init_weights)

    def separation_loss(self) -> torch.Tensor:
        """Σ over layers of eq-spd-separation from the last forward (0 without routers)."""
        return sum(block.aux["separation_loss"] for block in self.blocks)

    def auxiliary_loss(self) -> torch.Tensor:
        """What the original added to the task loss: ``separation_weight · Σ L_sep``."""
        return self.spark_config.separation_weight * self.separation_loss()


def build(config: SparkConfig, seed: int | None = None) -> SparkTransformer:
    """A :class:`SparkTransformer`, initialised from ``torch.manual_seed(seed)`` when given."""
    if seed is not None:
        torch.manual_seed(seed)
    return SparkTransformer(config)


def matched_standard(config: SparkConfig) -> SparkConfig:
    """A standard transformer (no components) whose MLP width makes its size closest to ``config``'s."""
    target = parameter_count(config)
    base = config.with_components()
    per_unit = 2 * config.d_model + 1  # one more hidden unit: a row, a column and a bias
    guess = (base.d_ff or 4 * config.d_model) + round((target - parameter_count(base)) / (per_unit * config.n_layers))
    best = min(range(max(1, guess - 2), guess + 3), key=lambda f: abs(parameter_count(replace(base, d_ff=f)) - target))
    return replace(base, d_ff=best)


def parameter_count(config: SparkConfig) -> int:
    return count_parameters(SparkTransformer(config))
