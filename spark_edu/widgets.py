"""Widget helpers: every interactive cell is a pure ``render(**params) -> Figure`` plus this
thin wrapper, so the chapter can first call ``render`` with the defaults in a plain cell
(what the static book and the notebook tests see) and then offer the live controls.
ipywidgets loads lazily; the sliders are live in Binder, Colab or Thebe's Live Code.
"""

from __future__ import annotations

from collections.abc import Callable


def interactive(render: Callable[..., object], **controls):
    """``ipywidgets.interact`` over ``render``; each figure is shown then closed.

    ``controls`` map parameter names to widgets (see :func:`slider`, :func:`choice`) or to
    fixed values. Returns the ``interactive`` widget so the cell displays it.
    """
    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    def show(**params):
        figure = render(**params)
        plt.show()
        plt.close(figure)

    return widgets.interactive(show, **controls)


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
