"""One figure theme for every report: the same CMO and CIO colours everywhere, colour-blind safe.

Colours are the Okabe–Ito palette (Okabe & Ito 2008), distinguishable under the common forms of
colour-vision deficiency. Every plotting helper sets a title and labels both axes with units;
titles, axis labels and legend entries passed in are text in the report's language (callers
translate them, and pass labels, never column names); the helpers' own words are translated
here and numeric tick labels use the reader's decimal separator.

:func:`publish` shows a figure once, as ``<figure class="dl-figure">`` with its title as
alternative text and caption and PNG and SVG downloads embedded as ``data:`` URLs.
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterable
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from matplotlib.ticker import ScalarFormatter

from helpers import LazyModule, i18n, markup
from helpers import labels as _labels
from helpers.i18n import N_, _, ngettext

if TYPE_CHECKING:  # the real modules for type checkers; imported on first use at run time
    import matplotlib.pyplot as plt
    import seaborn as sns
else:  # pyplot and seaborn: first figure or set_theme(), not the notebook's import cell
    plt = LazyModule("matplotlib.pyplot")
    sns = LazyModule("seaborn")

OKABE_ITO = ["#E69F00", "#0072B2", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442",
             "#000000"]
ROLE_COLOURS = {"CMO": OKABE_ITO[0], "CIO": OKABE_ITO[1]}
NEUTRAL = "#7F7F7F"


FIGURE = N_("Figure")
THIS_SAMPLE = N_("this sample")
PUBLISHED = N_("published")


def _title_of(fig: plt.Figure) -> str:
    """The figure's title (suptitle, else the first axes' title) — its alternative text."""
    sup = getattr(fig, "_suptitle", None)
    if sup is not None and sup.get_text():
        return sup.get_text()
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    return titles[0] if titles else _(FIGURE)


class LocaleFormatter(ScalarFormatter):
    """Matplotlib's default tick labels with the reader's decimal separator (``0,5``): the
    ``axes.formatter.use_locale`` setting needs operating-system locales, which reports do not
    rely on."""

    def __init__(self, language: str | None = None) -> None:
        super().__init__()
        self.decimal = i18n.decimal_symbol(language)

    def __call__(self, x: float, pos: int | None = None) -> str:
        return _swap(super().__call__(x, pos), self.decimal)

    def get_offset(self) -> str:
        return _swap(super().get_offset(), self.decimal)


def _swap(text: str, decimal: str) -> str:
    if decimal == ".":
        return text
    return text.replace(",", "\0").replace(".", decimal).replace("\0", ".")


def localise_ticks(fig: plt.Figure, language: str | None = None) -> None:
    """Give every numeric axis of ``fig`` (matplotlib's default formatter) the reader's decimal
    separator; category and fixed tick labels are left as they are."""
    if i18n.decimal_symbol(language) == ".":
        return
    for ax in fig.axes:
        for axis in (getattr(ax, name, None) for name in ("xaxis", "yaxis", "zaxis")):
            if axis is not None and type(axis.get_major_formatter()) is ScalarFormatter:
                axis.set_major_formatter(LocaleFormatter(language))


def figure_files(fig: plt.Figure) -> tuple[bytes, bytes]:
    """The figure as PNG and SVG bytes (the same every run: no date, a fixed id salt)."""
    import matplotlib

    png, svg = io.BytesIO(), io.BytesIO()
    with matplotlib.rc_context({"svg.hashsalt": "disconnect-lab", "svg.fonttype": "none"}):
        fig.savefig(png, format="png", bbox_inches="tight", metadata={"Software": None})
        fig.savefig(svg, format="svg", bbox_inches="tight", metadata={"Date": None})
    return png.getvalue(), svg.getvalue()


def figure_html(fig: plt.Figure, png: bytes | None = None, svg: bytes | None = None) -> str:
    """``<figure class="dl-figure">``: the PNG (its title as alternative text), the title as
    caption, and PNG and SVG downloads. Reports number figures by this element (the template
    does; nothing is numbered here)."""
    from helpers.tables import data_url, download_link, downloads, slug

    if png is None or svg is None:
        png, svg = figure_files(fig)
    title = _title_of(fig)
    stem = "figure-" + slug(title, default="untitled")
    links = [download_link("PNG", f"{stem}.png", "image/png", png),
             download_link("SVG", f"{stem}.svg", "image/svg+xml", svg)]
    return (f'<figure class="dl-figure" style="margin:1em 0">'
            f'<img src="{data_url("image/png", png)}" alt="{markup.text(title)}" '
            f'style="max-width:100%;height:auto">'
            f"<figcaption>{markup.text(title)}</figcaption>{downloads(links)}</figure>")


class _Figure:
    """A published figure as a notebook displays it: the HTML figure (what reports and
    JupyterLab show), with the PNG beside it for front ends that show no HTML."""

    def __init__(self, html: str, png: bytes, alt: str) -> None:
        self.html, self.png, self.alt = html, png, alt

    def _repr_mimebundle_(self, include: object = None, exclude: object = None
                          ) -> tuple[dict[str, object], dict[str, object]]:
        return ({"text/html": self.html, "image/png": self.png},
                {"image/png": {"alt": self.alt}})


def publish(fig: plt.Figure) -> plt.Figure:
    """Show a figure in a notebook once — as :func:`figure_html` (its title as alternative
    text and caption, PNG and SVG downloads) — with tick labels in the reader's locale, then
    close it so the inline backend does not show it a second time.

    Outside a notebook kernel (a script, the index) the figure gets its locale ticks and is
    returned, not shown."""
    localise_ticks(fig)
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython is a dependency
        return fig
    shell = get_ipython()
    if shell is None or not hasattr(shell, "kernel"):
        return fig
    from IPython.display import display

    png, svg = figure_files(fig)
    display(_Figure(figure_html(fig, png, svg), png, _title_of(fig)))
    plt.close(fig)
    return fig


def nothing_to_plot(values: pd.Series | pd.DataFrame | Iterable[float] | None) -> bool:
    """Whether a chart of ``values`` would show nothing: no values, or every value zero or
    missing. Bar-chart helpers then draw nothing and return ``None``; the caller shows one
    sentence instead, e.g.::

        fig = plots.horizontal_bars(shares, title=..., xlabel=...)
        if fig is None:
            display(tables.say(_("No item has missing answers.")))
    """
    if values is None:
        return True
    if isinstance(values, pd.DataFrame):
        flat = values.to_numpy().ravel().tolist()
    elif isinstance(values, pd.Series):
        flat = values.tolist()
    else:
        flat = list(values)
    for v in flat:
        try:
            x = float(v)
        except (TypeError, ValueError):
            continue
        if math.isfinite(x) and x != 0:
            return False
    return True


def set_theme() -> None:
    """Apply the project theme (call once at the top of a notebook).

    Text is drawn as typed: labels, tick labels and titles quote the codebook and the data, and
    a ``$`` in them (a currency, a vendor name) must not switch to mathtext, which would change
    the text or fail to draw it."""
    sns.set_theme(style="whitegrid", context="notebook", palette=OKABE_ITO)
    plt.rcParams.update({
        "figure.figsize": (8, 4.5),
        "figure.dpi": 100,
        "savefig.dpi": 100,
        "axes.titleweight": "bold",
        "axes.titlesize": 12,
        "axes.labelsize": 10,
        "legend.frameon": False,
        "text.parse_math": False,
    })


def role_palette(roles: list[str] | None = None) -> dict[str, str]:
    """CMO/CIO colours (other groups get the next palette colours)."""
    roles = roles or list(ROLE_COLOURS)
    extra = iter(OKABE_ITO[2:])
    return {r: ROLE_COLOURS.get(r) or next(extra) for r in roles}


def grouped_bars(table: pd.DataFrame, *, title: str, xlabel: str, ylabel: str,
                 colours: dict[str, str] | None = None, ax: plt.Axes | None = None
                 ) -> plt.Figure | None:
    """Bar chart of a wide table (index = categories on the x axis, columns = bar groups);
    ``None`` and nothing drawn when every value is zero or missing (:func:`nothing_to_plot`)."""
    if nothing_to_plot(table):
        return None
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
    return publish(fig)


def horizontal_bars(values: pd.Series, *, title: str, xlabel: str, ylabel: str = "",
                    colour: str = OKABE_ITO[1], ax: plt.Axes | None = None) -> plt.Figure | None:
    """Horizontal bars for a labelled series (e.g. % missing per item), largest at the top;
    ``None`` and nothing drawn when every value is zero or missing (:func:`nothing_to_plot`)."""
    if nothing_to_plot(values):
        return None
    if ax is None:
        fig, ax = plt.subplots(figsize=(8, max(3.0, 0.22 * len(values) + 1)))
    else:
        fig = ax.figure
    values.sort_values().plot.barh(ax=ax, color=colour)
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    fig.tight_layout()
    return publish(fig)


def _axes(ax: plt.Axes | None, figsize: tuple[float, float] | None = None) -> tuple[plt.Figure, plt.Axes]:
    if ax is not None:
        return ax.figure, ax
    fig, ax = plt.subplots(figsize=figsize)
    return fig, ax


def interval_plot(table: pd.DataFrame, *, label: str, estimate: str = "estimate",
                  low: str = "ci_low", high: str = "ci_high", group: str | None = None,
                  reference: float | None = None, title: str, xlabel: str,
                  markers: pd.DataFrame | None = None, marker_label: str = PUBLISHED,
                  ax: plt.Axes | None = None) -> plt.Figure:
    """Point estimates with intervals, one row per label (a forest plot), optionally by group.

    ``markers`` (columns: the label column, optional group column, ``value``) adds hollow diamonds,
    e.g. published benchmark figures beside sample shares. ``reference`` draws a vertical line
    (0 for coefficients).
    """
    labels = list(dict.fromkeys(table[label].astype(str)))
    groups = list(dict.fromkeys(table[group].astype(str))) if group else [None]
    fig, ax = _axes(ax, (8, max(2.5, 0.38 * len(labels) * max(1, len(groups)) ** 0.5 + 1.2)))
    colours = role_palette([g for g in groups if g is not None]) if group else {None: OKABE_ITO[1]}
    offsets = {g: (i - (len(groups) - 1) / 2) * 0.25 for i, g in enumerate(groups)}
    ypos = {lab: len(labels) - 1 - i for i, lab in enumerate(labels)}
    for g in groups:
        rows = table if g is None else table[table[group].astype(str) == g]
        y = [ypos[str(v)] + offsets[g] for v in rows[label]]
        ax.errorbar(rows[estimate], y, xerr=[rows[estimate] - rows[low], rows[high] - rows[estimate]],
                    fmt="o", color=colours[g], ecolor=colours[g], capsize=2,
                    label=None if g is None else str(_labels.value(group, g)))
    if markers is not None and not markers.empty:
        groups_of = (markers[group].astype(str).tolist() if group and group in markers
                     else [None] * len(markers))
        keep = [str(v) in ypos for v in markers[label]]
        y = [ypos[str(v)] + offsets.get(g, 0.0)
             for v, g, k in zip(markers[label], groups_of, keep, strict=True) if k]
        x = [v for v, k in zip(markers["value"], keep, strict=True) if k]
        ax.scatter(x, y, marker="D", facecolors="none", edgecolors="black", s=40, zorder=3,
                   label=_(marker_label))
    if reference is not None:
        ax.axvline(reference, color=NEUTRAL, linewidth=1, linestyle="--")
    shown = [_labels.term(k) if _labels.holds_terms(label) else k for k in ypos]
    ax.set_yticks(list(ypos.values()), shown)
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("")
    if group or markers is not None:
        ax.legend(loc="best")
    fig.tight_layout()
    return publish(fig)


FITTED = N_("Fitted value")
RESIDUAL = N_("Residual")


def residual_plot(fitted: pd.Series, residuals: pd.Series, *, title: str,
                  xlabel: str = FITTED, ylabel: str = RESIDUAL,
                  ax: plt.Axes | None = None) -> plt.Figure:
    """Residuals against fitted values with a LOWESS line (checks linearity and spread)."""
    fig, ax = _axes(ax, (7, 4))
    sns.regplot(x=fitted, y=residuals, lowess=True, ax=ax,
                scatter_kws={"s": 10, "alpha": 0.4, "color": OKABE_ITO[1]},
                line_kws={"color": OKABE_ITO[5]})
    ax.axhline(0, color=NEUTRAL, linewidth=1, linestyle="--")
    ax.set_title(title)
    ax.set_xlabel(_(xlabel))
    ax.set_ylabel(_(ylabel))
    fig.tight_layout()
    return publish(fig)


def response_surface(grid: pd.DataFrame, *, title: str, xlabel: str, ylabel: str, zlabel: str
                     ) -> plt.Figure:
    """A response surface as a 3-D plot and a contour plot side by side, with the lines of
    agreement (X = Y, solid) and disagreement (X = −Y, dashed) drawn in the contour panel.
    Observed pairs are not plotted: each is one firm's two executives."""
    xs = sorted(grid["x"].unique())
    ys = sorted(grid["y"].unique())
    z = grid.pivot(index="y", columns="x", values="z").loc[ys, xs].to_numpy()
    fig = plt.figure(figsize=(11, 4.8))
    ax3 = fig.add_subplot(1, 2, 1, projection="3d")
    xx, yy = pd.Series(xs).to_numpy(), pd.Series(ys).to_numpy()
    gx, gy = np.meshgrid(xx, yy)
    ax3.plot_surface(gx, gy, z, cmap="cividis", edgecolor="none", alpha=0.9)
    ax3.set_xlabel(xlabel)
    ax3.set_ylabel(ylabel)
    ax3.set_zlabel(zlabel)
    ax3.set_title(_("Surface"))
    ax2 = fig.add_subplot(1, 2, 2)
    cs = ax2.contourf(gx, gy, z, levels=12, cmap="cividis")
    fig.colorbar(cs, ax=ax2, label=zlabel)
    lo, hi = max(min(xs), min(ys)), min(max(xs), max(ys))
    ax2.plot([lo, hi], [lo, hi], color="white", linewidth=1.5, label=_("agreement (X = Y)"))
    mid_x, mid_y = (min(xs) + max(xs)) / 2, (min(ys) + max(ys)) / 2
    span = min(max(xs) - min(xs), max(ys) - min(ys)) / 2
    ax2.plot([mid_x - span, mid_x + span], [mid_y + span, mid_y - span], color="white",
             linestyle="--", linewidth=1.5, label=_("disagreement (X = −Y)"))
    ax2.set_xlabel(xlabel)
    ax2.set_ylabel(ylabel)
    ax2.set_title(_("Contour"))
    ax2.legend(loc="lower right", fontsize=8, frameon=True)
    fig.suptitle(title, fontweight="bold")
    fig.tight_layout()
    return publish(fig)


def trend_with_benchmark(sample: pd.DataFrame, published: pd.DataFrame | None, *, title: str,
                         ylabel: str, sample_label: str = THIS_SAMPLE,
                         published_label: str = PUBLISHED, ax: plt.Axes | None = None
                         ) -> plt.Figure:
    """A yearly sample series (columns year, estimate, optional ci_low/ci_high) beside a published
    series (columns year, value), both in the same unit."""
    fig, ax = _axes(ax, (8, 4))
    ax.plot(sample["year"], sample["estimate"], marker="o", color=OKABE_ITO[0],
            label=_(sample_label))
    if {"ci_low", "ci_high"} <= set(sample.columns):
        ax.fill_between(sample["year"], sample["ci_low"], sample["ci_high"], color=OKABE_ITO[0],
                        alpha=0.2, linewidth=0)
    if published is not None and not published.empty:
        ax.plot(published["year"], published["value"], marker="s", linestyle="--",
                color=OKABE_ITO[1], label=_(published_label))
    ax.set_title(title)
    ax.set_xlabel(_("Year"))
    ax.set_ylabel(ylabel)
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.legend()
    fig.tight_layout()
    return publish(fig)


def role_distribution(values: pd.Series, roles: pd.Series, *, title: str, xlabel: str,
                      min_cell: int = 5, bins: int = 16, ax: plt.Axes | None = None) -> plt.Figure:
    """Histograms (share of each role's respondents) of a score for CMOs and CIOs; bins holding
    fewer than ``min_cell`` respondents of a role are not drawn, and the figure says so."""
    fig, ax = _axes(ax, (7, 4))
    v = pd.to_numeric(values, errors="coerce")
    edges = np.linspace(v.min(), v.max(), bins + 1) if v.notna().any() else np.arange(2)
    hidden = 0
    for role, colour in ROLE_COLOURS.items():
        x = v[roles.astype(str).to_numpy() == role].dropna()
        counts, _edges = np.histogram(x, bins=edges)
        small = (counts > 0) & (counts < min_cell)
        hidden += int(small.sum())
        shares = np.where(small, 0, counts) / max(len(x), 1)
        ax.stairs(shares, edges, color=colour, linewidth=2,
                  label=_("{role} (n = {n})").format(role=role, n=i18n.integer(len(x))))
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(_("Share of respondents"))
    ax.legend()
    if hidden:
        ax.text(0.01, 0.98, ngettext(
                    "{n} bin with fewer than {min_cell} respondents not drawn",
                    "{n} bins with fewer than {min_cell} respondents not drawn", hidden).format(
                    n=i18n.integer(hidden), min_cell=i18n.integer(min_cell)),
                transform=ax.transAxes, va="top", fontsize=8, color=NEUTRAL)
    fig.tight_layout()
    return publish(fig)


def binned_means(x: pd.Series, y: pd.Series, *, title: str, xlabel: str, ylabel: str,
                 min_cell: int = 5, bins: int = 8, ax: plt.Axes | None = None,
                 units: pd.Series | None = None) -> plt.Figure:
    """Mean of y (95 % CI) within quantile bins of x, each bin holding at least ``min_cell``
    units: the relationship without plotting any single firm or person.

    ``units`` (e.g. the firm id of each firm-wave) says what is counted: a bin of five
    firm-waves from three firms would describe three firms. The number of bins is lowered until
    every bin meets the minimum, so no bin is dropped (a dropped bin's mean would follow from the
    others and the overall mean)."""
    fig, ax = _axes(ax, (7, 4.5))
    frame = pd.DataFrame({"x": pd.to_numeric(x, errors="coerce").to_numpy(),
                          "y": pd.to_numeric(y, errors="coerce").to_numpy(),
                          "unit": (units.to_numpy() if units is not None
                                   else np.arange(len(x)))}).dropna(subset=["x", "y"])
    g = pd.DataFrame(columns=["x", "y", "sd", "n", "units"])
    for k in range(max(1, min(bins, frame["unit"].nunique() // max(min_cell, 1))), 0, -1):
        frame["bin"] = pd.qcut(frame["x"], q=k, duplicates="drop") if k > 1 else 0
        g = frame.groupby("bin", observed=True).agg(x=("x", "mean"), y=("y", "mean"),
                                                     sd=("y", "std"), n=("y", "size"),
                                                     units=("unit", "nunique"))
        if (g["units"] >= min_cell).all():
            break
    g = g[g["units"] >= min_cell]  # only when even one bin falls short: nothing is drawn
    half = 1.96 * g["sd"] / np.sqrt(g["n"])
    ax.errorbar(g["x"], g["y"], yerr=half, fmt="o-", color=OKABE_ITO[1], capsize=3,
                label=_("bin means (each ≥ {min_cell} units)").format(
                    min_cell=i18n.integer(min_cell)))
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend()
    fig.tight_layout()
    return publish(fig)
