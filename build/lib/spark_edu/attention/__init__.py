"""Attention: the dense reference every other kernel is tested against, and mask predicates.

Chapters: ``book/attention_from_scratch.ipynb`` (the reference) and
``book/sparse_attention.ipynb`` (patterns and kernels that skip work).
"""

from spark_edu.attention.dense import attention, attention_weights
from spark_edu.attention.masks import and_masks, causal, dense_mask, full, or_masks

__all__ = ["attention", "attention_weights", "and_masks", "causal", "dense_mask", "full", "or_masks"]
