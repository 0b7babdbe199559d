"""One figure theme for every report: the same CMO and CIO colours everywhere, colour-blind safe.

Colours are the Okabe–Ito palette (Okabe & Ito 2008), distinguishable under the common forms of
colour-vision deficiency. Every plotting helper sets a title and labels both axes with units.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

OKABE_ITO = ["#E69F00", "#0072B2", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442",
             "#000000"]
ROLE_COLOURS = {"CMO": OKABE_ITO[0], "CIO": OKABE_ITO[1]}
NEUTRAL = "#7F7F7F"


def set_theme() -> None:
    """Apply the project theme (call once at the top of a notebook)."""
    sns.set_theme(style="whitegrid", context="notebook", palette=OKABE_ITO)
    plt.rcParams.update({
        "figure.figsize": (8, 4.5),
        "figure.dpi": 100,
        "savefig.dpi": 100,
        "axes.titleweight": "bold",
        "axes.titlesize": 12,
        "axes.labelsize": 10,
        "legend.frameon": False,
    })


def role_palette(roles: list[str] | None = None) -> dict[str, str]:
    """CMO/CIO colours (other groups get the next palette colours)."""
    roles = roles or list(ROLE_COLOURS)
    extra = iter(OKABE_ITO[2:])
    return {r: ROLE_COLOURS.get(r) or next(extra) for r in roles}


def grouped_bars(table: pd.DataFrame, *, title: str, xlabel: str, ylabel: str,
                 colours: dict[str, str] | None = None, ax: plt.Axes | None = None) -> plt.Figure:
    """Bar chart of a wide table (index = categories on the x axis, columns = bar groups)."""
    if ax is None:
        fig, ax = plt.subplots()
    else:
        fig = ax.figure
    colours = colours or role_palette([str(c) for c in table.columns])
    table.plot.bar(ax=ax, color=[colours.get(str(c), NEUTRAL) for c in table.columns], rot=0,
                   width=0.8, edgecolor="white")
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend(title=None)
    fig.tight_layout()
    return fig


def horizontal_bars(values: pd.Series, *, title: str, xlabel: str, ylabel: str = "",
                    colour: str = OKABE_ITO[1], ax: plt.Axes | None = None) -> plt.Figure:
    """Horizontal bars for a labelled series (e.g. % missing per item), largest at the top."""
    if ax is None:
        fig, ax = plt.subplots(figsize=(8, max(3.0, 0.22 * len(values) + 1)))
    else:
        fig = ax.figure
    values.sort_values().plot.barh(ax=ax, color=colour)
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    fig.tight_layout()
    return fig
