"""Mixture-of-experts routing, one concept per module.

* :mod:`~spark_edu.moe.router`   — softmax / noisy top-k routers, capacity and dropping
* :mod:`~spark_edu.moe.losses`   — Switch load-balancing loss, router z-loss
* :mod:`~spark_edu.moe.metrics`  — load fractions, CV, balance coefficients, MaxVio,
  dropped-token rate, specialisation
* :mod:`~spark_edu.moe.dispatch` — experts; loop reference, sorted fast path, dense oracle
* :mod:`~spark_edu.moe.expert_choice`  — expert-choice routing: experts pick their tokens
* :mod:`~spark_edu.moe.bias_balancing` — auxiliary-loss-free balancing by a per-expert bias
* :mod:`~spark_edu.moe.shared_expert`  — shared experts every token visits
* :mod:`~spark_edu.moe.layer`    — the MoE layer that joins them

Papers: Shazeer et al. (2017) noisy top-k; Lepikhin et al. (2021) GShard, capacity; Fedus et
al. (2022) Switch, balance loss; Zoph et al. (2022) ST-MoE, z-loss; Gale et al. (2023)
MegaBlocks, sorted dispatch; Zhou et al. (2022) expert choice; Wang et al. (2024) MaxVio and
loss-free balancing (DeepSeek-AI, 2024, DeepSeek-V3); Dai et al. (2024) DeepSeekMoE, shared experts.
Taught in ``book/moe.ipynb``.
"""

from spark_edu.moe.bias_balancing import BiasBalancedRouter, bias_update, biased_top_k_routing
from spark_edu.moe.dispatch import DISPATCH, Experts, dense_gates, dispatch_dense, dispatch_loop, dispatch_sorted
from spark_edu.moe.expert_choice import ExpertChoiceRouter, expert_choice_routing
from spark_edu.moe.layer import ROUTERS, MoEConfig, MoELayer, MoEOutput, expert_flops
from spark_edu.moe.losses import load_balancing_loss, router_z_loss
from spark_edu.moe.metrics import (
    balance_cv,
    balance_entropy,
    coefficient_of_variation,
    dropped_rate,
    expert_specialisation,
    load_fractions,
    max_violation,
    unrouted_rate,
    normalised_mutual_information,
    routing_matrix,
    specialisation,
)
from spark_edu.moe.router import Router, RouterConfig, Routing, capacity_mask, expert_capacity, top_k_routing
from spark_edu.moe.shared_expert import SharedExperts

__all__ = [
    "BiasBalancedRouter",
    "bias_update",
    "biased_top_k_routing",
    "ExpertChoiceRouter",
    "expert_choice_routing",
    "ROUTERS",
    "SharedExperts",
    "unrouted_rate",
    "DISPATCH",
    "Experts",
    "dense_gates",
    "dispatch_dense",
    "dispatch_loop",
    "dispatch_sorted",
    "MoEConfig",
    "MoELayer",
    "MoEOutput",
    "expert_flops",
    "load_balancing_loss",
    "router_z_loss",
    "balance_cv",
    "balance_entropy",
    "coefficient_of_variation",
    "dropped_rate",
    "expert_specialisation",
    "load_fractions",
    "max_violation",
    "normalised_mutual_information",
    "routing_matrix",
    "specialisation",
    "Router",
    "RouterConfig",
    "Routing",
    "capacity_mask",
    "expert_capacity",
    "top_k_routing",
]
