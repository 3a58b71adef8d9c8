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
