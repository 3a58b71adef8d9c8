"""Widget helpers: every interactive cell is a pure ``render(**params) -> Figure`` plus this
thin wrapper, so the chapter can first call ``render`` with the defaults in a plain cell
(what the notebook tests see) and then offer the controls twice:

- a **static twin** that works in the rendered page with no kernel: ``render`` is called over
  a small grid of control values when the notebook executes, each figure becomes a
  palette-quantised PNG frame, and standard HTML controls (range inputs, checkboxes) switch
  between the frames with a few lines of inline JavaScript (nothing loads from a network);
- the **live** ipywidgets version, which redraws for any value (Binder, Colab, Live Code).

The twin's grid (:func:`twin_grid`): the first control, the chapter's main knob, at up to
:data:`MAIN_VALUES` values over its whole range; every checkbox both ways; the second
control at two values (its default and its far end; a dropdown at its first
:data:`SECOND_OPTIONS` options); any other control fixed at its default.
ipywidgets loads lazily.
"""

from __future__ import annotations

import base64
import html
import itertools
import json
from collections.abc import Callable

#: Values of the main knob (the first control) in the static twin.
MAIN_VALUES = 6
#: Options of a dropdown that is the second control.
SECOND_OPTIONS = 4
#: Most frames one twin may hold (keeps a chapter's notebook and page small).
MAX_FRAMES = 24
#: The twin's frames are drawn this many pixels wide at most (the page column is 688 px)...
FRAME_WIDTH_PX = 880
#: ...and narrower (down to the column's width) while all frames together exceed this many
#: bytes, so a chapter's notebook and page stay small.
FRAME_BUDGET = 90_000
FRAME_WIDTHS = (FRAME_WIDTH_PX, 780, 688)
NOTE = (
    "Static view: the controls below switch between figures computed when this page was built "
    "(no kernel needed). The live widget under it redraws for any value, in Binder, Colab or Live Code."
)


def interactive(render: Callable[..., object], **controls):
    """``ipywidgets.interact`` over ``render`` plus its static twin (see the module docstring).

    ``controls`` map parameter names to widgets (see :func:`slider`, :func:`choice`,
    :func:`toggle`) or to fixed values. Returns a :class:`Interactive`, which the cell
    displays: the one-line note, the twin, then the live widget.
    """
    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    def show(**params):
        figure = render(**params)
        plt.show()
        plt.close(figure)

    live = widgets.interactive(show, **controls)
    return Interactive(StaticTwin(render, controls), live)


class Interactive:
    """The static twin and the live widget, displayed one after the other."""

    def __init__(self, twin: StaticTwin, live):
        self.twin, self.live = twin, live

    def _ipython_display_(self):
        from IPython.display import display

        display(self.twin)
        display(self.live)


def _values(widget, main: bool, second: bool) -> tuple[list, object]:
    """(the twin's values for one control, its default)."""
    import ipywidgets as widgets

    if isinstance(widget, widgets.Checkbox):
        return [False, True], widget.value
    if isinstance(widget, widgets.Dropdown):
        options = [o[1] if isinstance(o, tuple) else o for o in widget.options]
        if main or second:
            options = options[: MAIN_VALUES if main else SECOND_OPTIONS]
            return (options if widget.value in options else [widget.value, *options[:-1]]), widget.value
        return [widget.value], widget.value
    if isinstance(widget, widgets.IntSlider | widgets.FloatSlider):
        low, high, step, value = widget.min, widget.max, widget.step, widget.value
        if main:
            count = min(MAIN_VALUES, int(round((high - low) / step)) + 1)
            raw = [low + (high - low) * i / (count - 1) for i in range(count)]
            snapped = [low + round((x - low) / step) * step for x in raw]
            # the default is always one of the values: replace its nearest neighbour by it
            nearest = min(range(count), key=lambda i: abs(snapped[i] - value))
            snapped[nearest] = value
            values = sorted(set(snapped))
        elif second:
            far = high if (value - low) <= (high - value) else low
            values = sorted({value, far})
        else:
            values = [value]
        if isinstance(widget, widgets.IntSlider):
            return [int(round(v)) for v in values], int(value)
        return [round(float(v), 6) for v in values], round(float(value), 6)
    return [widget], widget  # a fixed value


def twin_grid(controls: dict) -> dict[str, tuple[list, object, str]]:
    """{parameter: (the twin's values, the default, its label)} for ``controls``."""
    grid, second_done = {}, False
    for i, (name, widget) in enumerate(controls.items()):
        label = getattr(widget, "description", "") or name
        is_slider_or_choice = hasattr(widget, "options") or hasattr(widget, "max")
        second = i > 0 and not second_done and is_slider_or_choice
        values, default = _values(widget, main=i == 0, second=second)
        second_done = second_done or (second and len(values) > 1)
        grid[name] = (values, default, label)
    total = 1
    for values, _, _ in grid.values():
        total *= len(values)
    if total > MAX_FRAMES:
        raise ValueError(f"controls: the static twin would need {total} frames (at most {MAX_FRAMES})")
    return grid


def _dpi(figure, width_px: int) -> float:
    return min(144.0, width_px / figure.get_size_inches()[0])


def figure_png(figure, width_px: int = FRAME_WIDTH_PX, colors: int = 32) -> bytes:
    """``figure`` as a deterministic palette PNG at most ``width_px`` wide (and <= 144 dpi)."""
    from spark_edu.plots import png_bytes

    return png_bytes(figure, dpi=_dpi(figure, width_px), colors=colors)


def _narrowest_pngs(render, params_by_key: dict) -> tuple[dict, dict]:
    """(key -> its figure, still open; key -> its PNG at the narrowest of :data:`FRAME_WIDTHS`).

    Each figure is drawn at the wider widths first, as the twin always drew them, so its bytes
    stay the same; those draws are not encoded (no palette, no compression: the slow part)."""
    from spark_edu.plots import draw_for_png

    figures, pngs = {}, {}
    for key, params in params_by_key.items():
        figures[key] = figure = render(**params)
        for width in FRAME_WIDTHS[:-1]:  # drawn, not encoded
            draw_for_png(figure, _dpi(figure, width))
        pngs[key] = figure_png(figure, FRAME_WIDTHS[-1])
    return figures, pngs


def _unique(pngs: list[bytes]) -> tuple[list[bytes], list[int]]:
    """(the distinct PNGs, frame number -> image number)."""
    images, index, seen = [], [], {}
    for png in pngs:
        if png not in seen:
            seen[png] = len(images)
            images.append(png)
        index.append(seen[png])
    return images, index


def _format(value) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


class StaticTwin:
    """Frames of ``render`` over :func:`twin_grid` and the HTML controls that switch them."""

    def __init__(self, render: Callable[..., object], controls: dict):
        import matplotlib.pyplot as plt

        self.grid = twin_grid(controls)
        names = list(self.grid)
        # settings that ``render.same_figure`` maps to one key draw one figure (e.g. an option
        # that only matters while another control is on)
        same_figure = getattr(render, "same_figure", None)
        params_by_key, keys = {}, []  # one figure per key; frame number -> its key
        for combo in itertools.product(*(self.grid[n][0] for n in names)):
            params = dict(zip(names, combo))
            key = same_figure(**params) if same_figure else combo
            params_by_key.setdefault(key, params)
            keys.append(key)
        # the widest width whose frames fit FRAME_BUDGET, else the narrowest. PNG bytes grow with
        # the width, so the narrowest is encoded first: when even it is over the budget (the
        # usual case) no frame is encoded at the other widths
        with plt.rc_context({"figure.max_open_warning": 0}):
            figures, narrowest = _narrowest_pngs(render, params_by_key)
        try:
            images, self.index = _unique([narrowest[k] for k in keys])
            if sum(map(len, images)) <= FRAME_BUDGET:
                for width in FRAME_WIDTHS[:-1]:
                    pngs = {k: figure_png(f, width) for k, f in figures.items()}
                    wider, index = _unique([pngs[k] for k in keys])
                    if sum(map(len, wider)) <= FRAME_BUDGET:
                        images, self.index = wider, index
                        break
        finally:
            for figure in figures.values():  # only now: a closed figure draws differently
                plt.close(figure)
        self.images = images
        self.name = getattr(render, "__module__", "render").split(".")[-2]

    def __repr__(self) -> str:
        parts = [f"{label} ∈ {{{', '.join(_format(v) for v in values)}}}" for values, _, label in self.grid.values()]
        return f"static view ({len(self.index)} settings, {len(self.images)} figures): " + "; ".join(parts)

    def _controls_html(self) -> str:
        rows = []
        for name, (values, default, label) in self.grid.items():
            text = html.escape(label)
            if len(values) == 1:
                rows.append(f'<span class="spark-twin-fixed">{text}: {html.escape(_format(values[0]))}</span>')
            elif values == [False, True]:
                checked = " checked" if default else ""
                rows.append(f'<label><input type="checkbox" name="{name}"{checked}> {text}</label>')
            else:
                labels = json.dumps([_format(v) for v in values], ensure_ascii=False)
                at = values.index(default) if default in values else 0
                rows.append(
                    f'<label>{text} <input type="range" name="{name}" min="0" max="{len(values) - 1}" '
                    f'step="1" value="{at}" aria-valuetext="{html.escape(_format(values[at]))}" '
                    f"data-labels='{html.escape(labels)}'> <output>{html.escape(_format(values[at]))}</output></label>"
                )
        return "".join(f'<div class="spark-twin-control">{r}</div>' for r in rows)

    def _repr_html_(self) -> str:
        frames = [base64.b64encode(png).decode("ascii") for png in self.images]
        names = list(self.grid)
        sizes = [len(self.grid[n][0]) for n in names]
        defaults = [self.grid[n][0].index(self.grid[n][1]) if self.grid[n][1] in self.grid[n][0] else 0 for n in names]
        first = 0
        for at, size in zip(defaults, sizes):
            first = first * size + at
        data = json.dumps({"names": names, "sizes": sizes, "index": self.index, "frames": frames})
        return (
            f'<div class="spark-twin" data-chapter="{self.name}" style="max-width:100%">'
            f'<p class="spark-twin-note" style="font-size:0.9em;margin:0 0 0.4em">{html.escape(NOTE)}</p>'
            f'<form class="spark-twin-controls" style="display:flex;flex-wrap:wrap;gap:0.3em 1.2em;'
            f'margin-bottom:0.4em" onsubmit="return false">{self._controls_html()}</form>'
            f'<img class="spark-twin-frame" style="max-width:100%;height:auto" alt="{html.escape(repr(self))}" '
            f'src="data:image/png;base64,{frames[self.index[first]]}">'
            f'<script type="application/json">{data}</script>'
            f"<script>{_SCRIPT}</script></div>"
        )


#: Switches the frame when a control moves: the frame number is the controls' indices in
#: row-major order over the grid (the order ``itertools.product`` draws them in).
_SCRIPT = (
    "(function(root){var d=JSON.parse(root.querySelector('script[type=\"application/json\"]').textContent);"
    "var img=root.querySelector('img.spark-twin-frame');"
    "function update(){var f=0;d.names.forEach(function(n,i){var c=root.querySelector('[name=\"'+n+'\"]');"
    "var v=c?(c.type==='checkbox'?(c.checked?1:0):+c.value):0;f=f*d.sizes[i]+v;"
    "if(c&&c.type==='range'){var l=JSON.parse(c.dataset.labels)[v];c.setAttribute('aria-valuetext',l);"
    "c.parentNode.querySelector('output').textContent=l;}});"
    "img.src='data:image/png;base64,'+d.frames[d.index[f]];}"
    "root.querySelector('form').addEventListener('input',update);"
    "root.querySelector('form').addEventListener('change',update);})(document.currentScript.parentNode);"
)


def slider(value, low, high, step=None, description: str = ""):
    """An int or float slider (by the type of ``value``) with continuous updates off."""
    import ipywidgets as widgets

    cls = widgets.IntSlider if isinstance(value, int) and not isinstance(value, bool) else widgets.FloatSlider
    kwargs = {
        "value": value,
        "min": low,
        "max": high,
        "continuous_update": False,
        "description": description,
        "style": {"description_width": "initial"},
    }
    if step is not None:
        kwargs["step"] = step
    return cls(**kwargs)


def choice(options, value=None, description: str = ""):
    """A dropdown over ``options``."""
    import ipywidgets as widgets

    return widgets.Dropdown(
        options=options,
        value=value if value is not None else list(options)[0],
        description=description,
        style={"description_width": "initial"},
    )


def toggle(value: bool, description: str = ""):
    """A checkbox."""
    import ipywidgets as widgets

    return widgets.Checkbox(value=value, description=description, style={"description_width": "initial"})
