"""The mixture-of-experts layer: router + experts + dispatch + auxiliary losses.

    MoE(x) = Σ_k g_k(x) · Expert_{i_k(x)}(x)        (eq-moe-combine, with eq-moe-topk gates)

``MoEConfig.router`` picks who chooses: ``"top_k"`` (tokens choose, :mod:`~spark_edu.moe.router`),
``"expert_choice"`` (experts choose, :mod:`~spark_edu.moe.expert_choice`) or ``"bias"``
(top-k by a load-balancing bias, :mod:`~spark_edu.moe.bias_balancing`); ``shared_experts``
adds experts every token visits (:mod:`~spark_edu.moe.shared_expert`, eq-moe-shared).

It works on any leading shape (..., D) and returns the output together with the routing
decision and the auxiliary loss ``L_bal + L_z`` (eq-moe-balance-loss, eq-moe-z-loss), so a
training loop adds ``out.aux_loss`` to its task loss.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from spark_edu.moe.bias_balancing import BiasBalancedRouter
from spark_edu.moe.dispatch import DISPATCH, Experts
from spark_edu.moe.expert_choice import ExpertChoiceRouter
from spark_edu.moe.losses import load_balancing_loss, router_z_loss
from spark_edu.moe.router import Router, RouterConfig, Routing
from spark_edu.moe.shared_expert import SharedExperts
from spark_edu.validation import check_input, check_positive_int, check_range


#: MoEConfig.router -> the router class it builds.
ROUTERS = {"top_k": Router, "expert_choice": ExpertChoiceRouter, "bias": BiasBalancedRouter}


@dataclass(frozen=True)
class MoEConfig:
    d_model: int = 32
    d_hidden: int = 32  # each expert's hidden width
    n_experts: int = 8  # the report's 8 named experts
    k: int = 2  # the report's top-2
    capacity_factor: float | None = None  # None: unlimited; 1.0 = exactly T·K/E places per expert
    noise: float = 0.0  # > 0: noisy top-k (Shazeer et al., 2017), noise std multiplier
    renormalize: bool = True  # k=1: use False (Switch); a renormalised top-1 gate is always 1, no gradient
    balance_alpha: float = 0.0  # Switch uses 0.01
    z_beta: float = 0.0  # ST-MoE uses 0.001
    dispatch: str = "sorted"  # "loop" (reference), "sorted" (fast path) or "dense" (oracle)
    router: str = "top_k"  # "top_k", "expert_choice" (k = experts per token on average) or "bias"
    bias_rate: float = 1e-3  # router="bias": the update speed u of eq-moe-bias-update
    shared_experts: int = 0  # experts every token visits, beside the routed ones (DeepSeekMoE)

    def __post_init__(self):
        check_positive_int("d_hidden", self.d_hidden)
        check_positive_int("shared_experts", self.shared_experts, minimum=0)
        check_range("bias_rate", self.bias_rate, 0.0)
        if self.router not in ROUTERS:
            raise ValueError(f"router must be one of {sorted(ROUTERS)}, got {self.router!r}")
        if self.router != "top_k" and self.noise > 0:
            raise ValueError(f"noise must be 0 with router={self.router!r} (noisy top-k only), got {self.noise}")
        check_range("balance_alpha", self.balance_alpha, 0.0)
        check_range("z_beta", self.z_beta, 0.0)
        if self.dispatch not in DISPATCH:
            raise ValueError(f"dispatch must be one of {sorted(DISPATCH)}, got {self.dispatch!r}")
        _ = self.router_config  # building it validates d_model, n_experts, k, capacity_factor, noise

    @property
    def router_config(self) -> RouterConfig:
        return RouterConfig(self.d_model, self.n_experts, self.k, self.capacity_factor, self.noise, self.renormalize)


@dataclass(frozen=True)
class MoEOutput:
    out: torch.Tensor  # (..., D)
    routing: Routing  # over the flattened tokens
    aux_loss: torch.Tensor  # scalar: balance loss + z-loss


class MoELayer(nn.Module):
    """Router and E expert MLPs; ``forward(x (..., D)) -> MoEOutput``."""

    def __init__(self, config: MoEConfig = MoEConfig()):
        super().__init__()
        self.config = config
        rc = config.router_config
        bias = config.router == "bias"
        self.router = BiasBalancedRouter(rc, config.bias_rate) if bias else ROUTERS[config.router](rc)
        self.experts = Experts(config.n_experts, config.d_model, config.d_hidden)
        self.shared = None  # eq-moe-shared: none by default
        if config.shared_experts:
            self.shared = SharedExperts(config.shared_experts, config.d_model, config.d_hidden)

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None) -> MoEOutput:
        c = self.config
        check_input("x", x, self.router.gate.weight)
        if x.dim() < 1 or x.shape[-1] != c.d_model:
            raise ValueError(f"x must have shape (..., {c.d_model}), got {tuple(x.shape)}")
        if x.numel() == 0:
            raise ValueError(f"x must hold at least one token, got shape {tuple(x.shape)}")
        flat = x.reshape(-1, c.d_model)  # (T, D)
        routing = self.router(flat, generator)
        out = DISPATCH[c.dispatch](flat, routing, self.experts)  # (T, D)
        if self.shared is not None:
            out = out + self.shared(flat)  # (T, D) eq-moe-shared
        aux = flat.new_zeros(())
        if c.balance_alpha > 0:
            aux = aux + load_balancing_loss(routing.probs, routing.indices, c.balance_alpha)
        if c.z_beta > 0:
            aux = aux + router_z_loss(routing.logits, c.z_beta)
        return MoEOutput(out.reshape(x.shape), routing, aux)


def expert_flops(n_assignments: int, d_model: int, d_hidden: int) -> float:
    """Multiply-add FLOPs of the expert MLPs for ``n_assignments`` token-expert pairs: 4·A·D·F."""
    return 4.0 * n_assignments * d_model * d_hidden


__all__ = ["ROUTERS", "MoEConfig", "MoELayer", "MoEOutput", "expert_flops"]
