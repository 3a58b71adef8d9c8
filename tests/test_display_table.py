"""spark_edu.display.Table: HTML in the book, stable fixed-width text for nbval."""

import pytest

from spark_edu.display import Table


def test_text_and_html_agree():
    t = Table(
        [("dense", 1.0, 0.25), ("local window", 12.5, 0.5)], ["pattern", "speedup", "sparsity"], {"speedup": ".2f"}
    )
    assert repr(t).splitlines() == [
        "pattern       speedup  sparsity",
        "------------  -------  --------",
        "dense            1.00      0.25",
        "local window    12.50       0.5",
    ]
    page = t._repr_html_()
    assert page.count("<tr>") == 3 and "overflow-x:auto" in page
    assert '<td class="num">12.50</td>' in page and '<td class="text">local window</td>' in page


def test_verdict_cells_are_classed_and_escaped():
    page = Table([("<b>", "differs")], ["quantity", "verdict"])._repr_html_()
    assert "&lt;b&gt;" in page and 'class="text verdict-differs"' in page


def test_bad_rows():
    with pytest.raises(ValueError, match="rows"):
        Table([(1, 2, 3)], ["a", "b"])


def test_missing_values_intervals_and_notes():
    t = Table(
        [("top-2", 0.5, (0.25, 0.2, 0.3), (0.1, 0.4)), ("expert choice", None, (1.0, 1.0, 1.0), None)],
        ["method", "lr", "MaxVio", "IQR"],
        {"lr": "g", "MaxVio": ".3f", "IQR": ".2f"},
        caption="mean [95% interval]",
        notes="first note\nsecond note",
    )
    assert repr(t).splitlines() == [
        "mean [95% interval]",
        "method          lr                MaxVio           IQR",
        "-------------  ---  --------------------  ------------",
        "top-2          0.5  0.250 [0.200, 0.300]  [0.10, 0.40]",
        "expert choice    —  1.000 [1.000, 1.000]             —",
        "first note",
        "second note",
    ]
    page = t._repr_html_()
    assert '<td class="num">0.250 [0.200, 0.300]</td>' in page and '<td class="num">—</td>' in page
    assert "<caption>mean [95% interval]</caption>" in page
    assert '<p class="spark-table-notes">first note<br>second note</p></div>' in page
