"""Every bad call in ``tests/bad_inputs.py`` gets a clear error (or an honest result).

The table is the regression test of every example the install issue listed (a NaN reported
under an internal name, deep torch errors, garbage results); ``tools/bad_input_census.py``
prints the same table's counts.
"""

import pytest
from bad_inputs import CASES, classify

#: The examples the issue named, each of which must stay in the table.
ISSUE_EXAMPLES = [
    "attention: q float32, k float64",
    "attention_weights: head dims differ",
    "fk_attention: 1-d q, k, v",
    "fk_attention: q int64",
    "fk_attention: q float16",
    "resolvent: float16 A",
    "FKAttention(32, 4): width-16 input",
    "MoELayer: float16 x",
    "MoELayer: int x",
    "MoELayer: nan x",
    "SPDRouter: float16 x",
    "SPDRouter: int x",
    "VerifierHead: float16 hidden_states",
    "VerifierHead: int hidden_states",
    "VerifierHead: nan hidden_states",
    "top_k_routing: int logits",
    "routing_matrix: categories out of range",
    "stack_step: 2-d stack",
    "lag_copy.accuracy: shapes differ",
    "pointer_chasing.follow: successors out of range",
    "DyckConfig(max_length=3): sample_valid",
    "DyckConfig(1, 2, 20, min_depth=3, max_depth=5): sample_valid",
    "SPDRouter(16): empty batch",
    "dct_basis: dtype int64",
    "run_stack: strengths 5.0",
    "snr_db: zeros, zeros",
    "signals.input_snr_db(0)",
]


def test_the_issue_examples_are_in_the_table():
    names = {case.name for case in CASES}
    assert not [name for name in ISSUE_EXAMPLES if name not in names]
    assert len(names) == len(CASES), "case names must be unique"


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_bad_call_gets_a_clear_answer(case):
    category, detail = classify(case)
    assert category in ("clear", "works"), f"{category}: {detail}"
