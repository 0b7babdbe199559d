"""Calibrated synthetic sample data with a known truth: survey, budgets, ledger, FX rates, vendors.

SYNTHETIC DATA — not real respondents. The simulator exists so that every notebook and helper can be
run, tested and demonstrated without confidential survey data, and so that tests can check that the
estimators recover the parameters that generated the data (the *truth*).

The data-generating process (DGP) in brief — :data:`README_TEMPLATE` is the full description and is
written as ``README.md`` beside the data and as ``data/SAMPLE_DATA.md`` (one text, one source):

* firms with a country, industry, size band and revenue take part in survey waves; per firm-wave the
  CMO and/or the CIO answer (incomplete dyads happen);
* firm-wave drivers (co-funding, shared KPIs, agile teams, IT service orientation, data ownership,
  sales involvement, data readiness) lower a latent disconnect ``D`` with known effects;
* indicator items load on the respondent's perceived disconnect so that the *disconnect index*
  (see :func:`simulate_survey`) regressed on the drivers recovers the true effects; item means are
  calibrated so that top-box shares equal published benchmarks (:func:`benchmark_targets`);
* outcomes (joint project success with a known response surface, project failure, customer insight,
  relationship improvement) depend on ``D`` and on the executives' shared understanding;
* budgets follow Gartner's published marketing-budget series; the ledger's shadow-IT share of
  technology spend rises with ``D``.

Public API: :class:`SimulationConfig`, :func:`simulate_survey`, :func:`simulate_budgets`,
:func:`write_ledger`, :func:`write_sample`, :func:`benchmark_targets`; for checking estimates:
:func:`calibration_table`, :func:`budget_paths`, :func:`ledger_truth`, :func:`truth_document`,
:func:`shadow_it_mask`; and :func:`fx_rates`, :func:`vendors_table`, :func:`render_readme`.

Every random draw comes from ``numpy.random.SeedSequence(seed, spawn_key=(stream, ...))``: the same
seed and sizes give identical data, and the ledger is generated in fixed blocks of
:data:`BLOCK_ROWS` rows so that its content does not depend on the chunk size used to write it.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from helpers import paths
from helpers.atomic import atomic_path, write_parquet, write_text
from helpers.codebook import Codebook, Item, load_codebook
from helpers.errors import DataError
from helpers import LazyModule

if TYPE_CHECKING:  # the real modules for type checkers; imported on first use at run time
    from scipy import optimize, special
else:
    optimize = LazyModule("scipy.optimize")
    special = LazyModule("scipy.special")

# --------------------------------------------------------------------------- constants
REFERENCE_FILE = "published_figures.csv"
BLOCK_ROWS = 65_536  # ledger rows per random block; chunks are whole blocks
SU_CONSTRUCT = "shared_understanding_own"
BINARY_DRIVERS = ("cofunded_projects", "shared_kpis", "joint_agile_teams")
CONTINUOUS_DRIVERS = ("it_service_orientation", "data_ownership", "sales_involvement",
                      "data_readiness")
DRIVERS = BINARY_DRIVERS + CONTINUOUS_DRIVERS
STRUCTURAL_OUTCOMES = ("joint_project_success", "customer_insight")
FAILURE_CONSTRUCT = "project_failure"
IMPROVED_CONSTRUCT = "relationship_improved"

LANGUAGE_OF_COUNTRY = {"DE": "DE", "AT": "DE", "CH": "DE", "NL": "NL", "BE": "NL", "DK": "DA"}
CURRENCY_OF_COUNTRY = {"DK": "DKK", "CH": "CHF", "UK": "GBP", "SE": "SEK", "NO": "NOK"}
FX_LEVELS = {"EUR": 1.0, "DKK": 0.134, "CHF": 1.05, "GBP": 1.17, "SEK": 0.088, "NOK": 0.086,
             "USD": 0.92}
FX_MONTHLY_SD = {"EUR": 0.0, "DKK": 0.0008, "CHF": 0.008, "GBP": 0.008, "SEK": 0.010,
                 "NOK": 0.010, "USD": 0.012}
DOC_IP_PREFIXES = ("192.0.2", "198.51.100", "203.0.113")  # RFC 5737 documentation ranges

# Random streams (the first element of each spawn key).
_FIRMS, _PANEL, _LATENT, _ITEMS, _PERSONAL, _BUDGETS, _FX, _SHADOW, _LEDGER = range(1, 10)

# Assumed top-box shares for (item, role) pairs without a published benchmark. Directions follow
# the published pattern: CIOs rate importance and regular meetings higher, CMOs complain about speed
# and IT deliverables, CIOs about bypassing and changing requirements.
ASSUMED_TOP_BOX: dict[str, dict[str, float]] = {
    "trust_1": {"CMO": 0.45, "CIO": 0.50}, "trust_2": {"CMO": 0.40, "CIO": 0.42},
    "trust_3": {"CMO": 0.25, "CIO": 0.22},
    "su_2": {"CMO": 0.50, "CIO": 0.55}, "su_3": {"CMO": 0.38, "CIO": 0.40},
    "sup_1": {"CMO": 0.35, "CIO": 0.30}, "sup_2": {"CMO": 0.30, "CIO": 0.28},
    "sup_3": {"CMO": 0.32, "CIO": 0.34},
    "speed_1": {"CIO": 0.20}, "speed_2": {"CMO": 0.25, "CIO": 0.55},
    "speed_3": {"CMO": 0.35, "CIO": 0.40},
    "req_1": {"CMO": 0.20},
    "bypass_1": {"CMO": 0.30}, "bypass_2": {"CMO": 0.35, "CIO": 0.50},
    "bypass_3": {"CMO": 0.55, "CIO": 0.40},
    "auton_2": {"CMO": 0.70, "CIO": 0.45},
    "itso_1": {"CMO": 0.40, "CIO": 0.60}, "itso_2": {"CMO": 0.45, "CIO": 0.65},
    "itso_3": {"CMO": 0.35, "CIO": 0.15},
    "own_1": {"CMO": 0.45, "CIO": 0.50}, "own_2": {"CMO": 0.40, "CIO": 0.45},
    "sales_1": {"CMO": 0.45, "CIO": 0.40}, "sales_2": {"CMO": 0.35, "CIO": 0.30},
    "ready_1": {"CIO": 0.55}, "ready_2": {"CMO": 0.35, "CIO": 0.40},
    "ready_3": {"CIO": 0.45},
}
DEFAULT_TOP_BOX = 0.40  # for a codebook item added later without a benchmark or an assumption

STRAIGHTLINE_VALUES = (1, 2, 3, 4, 5)
STRAIGHTLINE_P = (0.05, 0.15, 0.35, 0.35, 0.10)


# --------------------------------------------------------------------------- configuration
@dataclass(frozen=True)
class SimulationConfig:
    """Every size, probability and true effect of the data-generating process.

    The defaults give the project sample (``data/raw/sample``). Effects on the disconnect are in
    Likert points of the disconnect index per unit of the driver (binary drivers: yes vs no;
    continuous drivers: per standard deviation). ``truth.yaml`` lists all of them.
    """

    # sizes and calendar ---------------------------------------------------------------------
    firms: int = 300
    waves: int = 2
    ledger_rows: int = 200_000
    seed: int = 20261122
    first_wave_year: int = 2024         # wave w is fielded in year first_wave_year + w - 1
    budget_first_year: int = 2022       # budgets and ledger cover these years (extended to the
    budget_last_year: int = 2025        # last wave's year if the waves run longer)
    ledger_chunk_rows: int = 1_000_000  # rows per Parquet row group (rounded to BLOCK_ROWS)
    bad_rows: float = 0.0               # share of deliberately broken ledger rows (tests only)
    # sample design ---------------------------------------------------------------------------
    country_weights: tuple[tuple[str, float], ...] = (
        ("DE", 0.24), ("NL", 0.14), ("DK", 0.12), ("CH", 0.10), ("AT", 0.08), ("BE", 0.08),
        ("UK", 0.12), ("SE", 0.06), ("NO", 0.06))
    industry_weights: tuple[tuple[str, float], ...] = (
        ("Retail", 0.18), ("Financial services", 0.18), ("Manufacturing", 0.20),
        ("Telecom and media", 0.10), ("Consumer goods", 0.14), ("Health", 0.10),
        ("Travel and hospitality", 0.10))
    size_weights: tuple[tuple[str, float], ...] = (
        ("<250", 0.30), ("250-999", 0.30), ("1000-4999", 0.25), ("5000+", 0.15))
    p_wave: float = 0.75                # a firm takes part in a wave (at least one wave)
    p_cmo: float = 0.88                 # the CMO answers in a firm-wave (at least one executive)
    p_cio: float = 0.85                 # the CIO answers in a firm-wave
    # drivers ---------------------------------------------------------------------------------
    p_cofunded_projects: float = 0.35
    p_shared_kpis: float = 0.30
    p_joint_agile_teams: float = 0.40
    driver_keep: float = 0.80           # a binary driver carries over to the next wave
    driver_rho: float = 0.70            # wave-to-wave correlation of the continuous drivers
    report_accuracy: float = 0.92       # a yes/no fact is reported correctly
    driver_loading: float = 0.80        # agree5 driver item = mu + loading * driver(SD) + noise
    driver_item_sd: float = 0.60
    # disconnect D (firm-wave) ------------------------------------------------------------------
    beta_cofunded_projects: float = -0.40
    beta_shared_kpis: float = -0.30
    beta_it_service_orientation: float = -0.25
    beta_joint_agile_teams: float = -0.20
    beta_data_ownership: float = -0.15
    beta_sales_involvement: float = -0.10
    beta_data_readiness: float = 0.0
    size_effects: tuple[tuple[str, float], ...] = (
        ("<250", -0.10), ("250-999", 0.0), ("1000-4999", 0.05), ("5000+", 0.15))
    industry_effects: tuple[tuple[str, float], ...] = (
        ("Retail", -0.05), ("Financial services", 0.10), ("Manufacturing", 0.15),
        ("Telecom and media", -0.05), ("Consumer goods", 0.0), ("Health", 0.10),
        ("Travel and hospitality", -0.05))
    country_effects: tuple[tuple[str, float], ...] = (
        ("DE", 0.05), ("NL", -0.10), ("DK", -0.10), ("CH", 0.05), ("AT", 0.05), ("BE", 0.0),
        ("UK", 0.0), ("SE", -0.10), ("NO", -0.05))
    wave_effect: float = -0.05          # per wave after the first
    firm_effect_sd: float = 0.35        # firm random effect, shared across waves
    firm_wave_sd: float = 0.30          # firm-wave noise
    perception_sd: float = 0.30         # role-specific perception: D_r = D + noise
    construct_sd: float = 0.35          # respondent x construct factor of indicator items
    item_sd: float = 0.60               # item noise of indicator items
    # shared understanding and outcomes -----------------------------------------------------------
    su_base_sd: float = 0.40            # SU_r = base + su_on_disconnect * D + role noise
    su_on_disconnect: float = -0.50
    su_role_sd: float = 0.40
    success_intercept: float = 3.2      # success = b0 + b1 X + b2 Y + gap (X-Y)^2 + c D + noise
    success_b_cmo: float = 0.25
    success_b_cio: float = 0.25
    success_gap: float = -0.15
    success_on_disconnect: float = -0.30
    success_sd: float = 0.35
    outcome_item_sd: float = 0.50
    failure_intercept: float = -0.8     # logit P(failed or late project) = a + b D
    failure_on_disconnect: float = 0.9
    insight_intercept: float = 3.3
    insight_on_disconnect: float = -0.35
    insight_on_readiness: float = 0.30
    insight_sd: float = 0.30
    improved_on_disconnect: float = -0.30
    improved_sd: float = 0.90
    # paradata and personal fields ------------------------------------------------------------------
    duration_median: float = 600.0
    duration_sigma: float = 0.45
    speeder_share: float = 0.03
    straightliner_share: float = 0.02
    comment_share: float = 0.30
    comment_name_share: float = 1 / 3
    # budgets ---------------------------------------------------------------------------------
    revenue_medians_eur: tuple[tuple[str, float], ...] = (
        ("<250", 3.0e7), ("250-999", 1.5e8), ("1000-4999", 8.0e8), ("5000+", 5.0e9))
    revenue_sigma: float = 0.60
    revenue_growth_mean: float = 0.03
    revenue_growth_sd: float = 0.04
    marketing_firm_sd: float = 0.25
    marketing_year_sd: float = 0.08
    it_pct_first: float = 0.034         # IT budget / revenue in the first budget year
    it_pct_last: float = 0.030          # ... and in the last (linear in between)
    it_firm_sd: float = 0.25
    it_year_sd: float = 0.05
    tech_share_first: float = 0.39      # marketing's share of technology spend,
    tech_share_drift: float = 0.01      # martech / (martech + IT), rising per year
    martech_firm_sd: float = 0.15
    martech_year_sd: float = 0.05
    # ledger ----------------------------------------------------------------------------------
    ledger_tech_share: float = 0.30     # share of ledger rows that are technology purchases
    shadow_intercept: float = 0.08      # shadow-IT share of tech spend = a + b D + noise
    shadow_on_disconnect: float = 0.05
    shadow_sd: float = 0.03
    shadow_min: float = 0.01
    shadow_max: float = 0.60
    refund_share: float = 0.01

    def __post_init__(self) -> None:
        if self.firms < 1 or self.waves < 1 or self.ledger_rows < 0 or self.ledger_chunk_rows < 1:
            raise ValueError("firms and waves must be >= 1, ledger_rows >= 0, chunk rows >= 1")
        if self.budget_last_year < self.budget_first_year:
            raise ValueError("budget_last_year must not be before budget_first_year")
        for name in ("p_wave", "p_cmo", "p_cio", "p_cofunded_projects", "p_shared_kpis",
                     "p_joint_agile_teams", "driver_keep", "report_accuracy", "speeder_share",
                     "straightliner_share", "comment_share", "ledger_tech_share",
                     "refund_share"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be a probability, got {getattr(self, name)}")
        if not 0.0 <= self.bad_rows <= 0.5:
            raise ValueError("bad_rows must be between 0 and 0.5")

    @property
    def betas(self) -> dict[str, float]:
        """True effect of each driver construct on the disconnect D."""
        return {cid: float(getattr(self, f"beta_{cid}")) for cid in DRIVERS}

    @property
    def driver_prevalence(self) -> dict[str, float]:
        return {cid: float(getattr(self, f"p_{cid}")) for cid in BINARY_DRIVERS}

    @property
    def years(self) -> tuple[int, ...]:
        """Budget and ledger years: the budget years, extended to the last wave's year."""
        last = max(self.budget_last_year, self.wave_year(self.waves))
        return tuple(range(self.budget_first_year, last + 1))

    def wave_year(self, wave: int) -> int:
        return self.first_wave_year + wave - 1

    def wave_of_year(self, year: int) -> int:
        """The wave whose disconnect applies to a ledger year (years before wave 1 use wave 1)."""
        return int(min(max(year - self.first_wave_year + 1, 1), self.waves))


def _rng(config: SimulationConfig, *key: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(config.seed, spawn_key=key))


def _weights(pairs: Sequence[tuple[str, float]], allowed: Sequence[str] | None, what: str,
             codebook: Codebook) -> tuple[list[str], np.ndarray]:
    """Values and normalised weights; every value must be allowed by the codebook."""
    values = [v for v, _ in pairs]
    if allowed is not None:
        unknown = [v for v in values if v not in allowed]
        if unknown:
            raise DataError(f"simulation uses {what} values the codebook does not allow: "
                            f"{', '.join(unknown)}", file=str(codebook.path),
                            column=f"fields.{what}.values", rule="simulate-codebook-values")
    w = np.array([float(p) for _, p in pairs])
    return values, w / w.sum()


# --------------------------------------------------------------------------- benchmarks
def _read_figures(path: Path) -> pd.DataFrame:
    if not path.exists():
        raise DataError("reference file not found", file=str(path), rule="file-not-found")
    figures = pd.read_csv(path, dtype=str, keep_default_na=False)
    for column in ("figure_id", "value", "unit", "year"):
        if column not in figures.columns:
            raise DataError("required column missing", file=str(path), column=column,
                            rule="reference-columns")
    return figures.set_index("figure_id")


def _reference_path(reference_path: str | Path | None) -> Path:
    return Path(reference_path) if reference_path is not None else paths.REFERENCE / REFERENCE_FILE


def benchmark_targets(codebook: Codebook | None = None,
                      reference_path: str | Path | None = None) -> pd.DataFrame:
    """Top-box targets from the codebook's ``benchmark:`` links and the published figures.

    One row per link: ``item``, ``role`` (CMO, CIO or ``all``), ``figure_id`` and ``target``
    (the published percentage as a share, 0-1). Nothing is re-typed: change the codebook or
    ``published_figures.csv`` and the calibration follows.
    """
    cb = codebook or load_codebook()
    ref = _reference_path(reference_path)
    figures = _read_figures(ref)
    rows = []
    for item in cb.items.values():
        for role, figure_id in item.benchmark.items():
            if figure_id not in figures.index:
                raise DataError(f"item {item.id} links figure {figure_id!r}, which is not in the "
                                "reference file", file=str(ref), column="figure_id",
                                rule="benchmark-unknown-figure",
                                hint="fix the id in data/codebook.yaml or add the figure")
            figure = figures.loc[figure_id]
            if figure["unit"] != "percent":
                raise DataError(f"figure {figure_id} (linked by {item.id}) has unit "
                                f"{figure['unit']!r}, not a percentage of respondents",
                                file=str(ref), column="unit", rule="benchmark-unit")
            rows.append({"item": item.id, "role": role, "figure_id": figure_id,
                         "target": float(figure["value"]) / 100.0})
    return pd.DataFrame(rows, columns=["item", "role", "figure_id", "target"])


def _gartner_series(figures: pd.DataFrame, kind: str) -> dict[int, float]:
    """Gartner CMO Spend Survey series by year (``budget_pct_revenue`` or ``martech_share``)."""
    pattern = re.compile(rf"gartner_cmo_spend_(\d{{4}})_{kind}")
    series = {int(m.group(1)): float(figures.at[fid, "value"]) / 100.0
              for fid in figures.index if (m := pattern.fullmatch(str(fid)))}
    if not series:
        raise DataError(f"no Gartner {kind} figures found", file=REFERENCE_FILE,
                        column="figure_id", rule="simulate-gartner-series")
    return series


def _nearest(series: Mapping[int, float], year: int) -> tuple[float, list[int]]:
    """Value of the published year nearest to ``year``; the mean of both on a tie."""
    gap = min(abs(y - year) for y in series)
    years = sorted(y for y in series if abs(y - year) == gap)
    return float(np.mean([series[y] for y in years])), years


# --------------------------------------------------------------------------- firms and latent truth
FIRM_PREFIXES = ("Hansa", "Nordlicht", "Alpen", "Polder", "Fjord", "Kronen", "Delta", "Lumen",
                 "Vesta", "Rhein", "Tulpen", "Viking", "Baltic", "Edel", "Bergkamp", "Solberg",
                 "Ørsted", "Müritz", "Zuider", "Kastell", "Wester", "Aurora", "Helvetia",
                 "Donau", "Skagen", "Limmat", "Brabant", "Thames", "Göta", "Nordkap")
FIRM_SUFFIXES = {
    "Retail": ("Markt", "Stores", "Retail"), "Financial services": ("Bank", "Finanz", "Assurance"),
    "Manufacturing": ("Werke", "Industries", "Maschinenbau"),
    "Telecom and media": ("Telecom", "Media", "Connect"),
    "Consumer goods": ("Foods", "Brands", "Home"), "Health": ("Health", "Pharma", "Care"),
    "Travel and hospitality": ("Reisen", "Travel", "Hotels"),
}


def _firms(config: SimulationConfig, cb: Codebook) -> pd.DataFrame:
    """One row per firm: id, name, e-mail slug, country, industry, size band, revenue, currency."""
    rng = _rng(config, _FIRMS)
    n = config.firms
    countries, cw = _weights(config.country_weights, cb.fields["country"].values, "country", cb)
    industries, iw = _weights(config.industry_weights, cb.fields["industry"].values,
                              "industry", cb)
    sizes, sw = _weights(config.size_weights, cb.fields["size_band"].values, "size_band", cb)
    country = np.array(countries, dtype=object)[rng.choice(len(countries), n, p=cw)]
    industry = np.array(industries, dtype=object)[rng.choice(len(industries), n, p=iw)]
    size = np.array(sizes, dtype=object)[rng.choice(len(sizes), n, p=sw)]
    medians = dict(config.revenue_medians_eur)
    revenue = np.array([medians[s] for s in size]) * np.exp(
        config.revenue_sigma * rng.standard_normal(n))
    prefix = rng.integers(0, len(FIRM_PREFIXES), n)
    suffix = rng.integers(0, 3, n)
    names = [f"{FIRM_PREFIXES[p]} {FIRM_SUFFIXES.get(ind, ('Group',) * 3)[s]}"
             for p, s, ind in zip(prefix, suffix, industry, strict=True)]
    width = max(4, len(str(n)))
    firm_id = [f"F{i + 1:0{width}d}" for i in range(n)]
    slugs = _unique_slugs(names)
    return pd.DataFrame({
        "firm_id": firm_id, "firm_name": names, "slug": slugs, "country": country,
        "industry": industry, "size_band": size, "revenue_eur": np.round(revenue, -3),
        "currency": [CURRENCY_OF_COUNTRY.get(c, "EUR") for c in country],
    })


def _unique_slugs(names: Sequence[str]) -> list[str]:
    seen: dict[str, int] = {}
    slugs = []
    for name in names:
        base = _ascii(name, "-")
        seen[base] = seen.get(base, 0) + 1
        slugs.append(base if seen[base] == 1 else f"{base}-{seen[base]}")
    return slugs


def _binary_panel(rng: np.random.Generator, shape: tuple[int, int], p: float,
                  keep: float) -> np.ndarray:
    """Bernoulli(p) per firm-wave; with probability ``keep`` the previous wave's value persists."""
    fresh = rng.random(shape) < p
    stay = rng.random(shape) < keep
    out = fresh.copy()
    for w in range(1, shape[1]):
        out[:, w] = np.where(stay[:, w], out[:, w - 1], fresh[:, w])
    return out.astype(np.int64)


def _normal_panel(rng: np.random.Generator, shape: tuple[int, int], rho: float) -> np.ndarray:
    """Standard-normal per firm-wave with wave-to-wave correlation ``rho`` (AR(1))."""
    z = rng.standard_normal(shape)
    out = z.copy()
    for w in range(1, shape[1]):
        out[:, w] = rho * out[:, w - 1] + np.sqrt(1 - rho**2) * z[:, w]
    return out


def _effects(pairs: Sequence[tuple[str, float]], values: np.ndarray) -> np.ndarray:
    table = dict(pairs)
    return np.array([table.get(v, 0.0) for v in values], dtype=float)


_CONTROL_EFFECTS = {"country": ("country_weights", "country_effects"),
                    "industry": ("industry_weights", "industry_effects"),
                    "size_band": ("size_weights", "size_effects")}


def discrete_disconnect(config: SimulationConfig, cb: Codebook,
                        fields: Sequence[str] = ("country", "industry", "size_band"),
                        waves: bool = True, drivers: bool = True
                        ) -> tuple[np.ndarray, np.ndarray]:
    """Support points and probabilities of the discrete part of the (uncentred) D: with
    ``drivers`` the binary drivers, the effects of the control ``fields`` and, with ``waves``,
    the wave effect.

    The building block of :func:`_disconnect_mixture`; the truth modules use it with fewer
    parts when they integrate over the rest themselves (e.g. size band by size band).
    """
    values, weights = np.zeros(1), np.ones(1)

    def add(v: np.ndarray, w: np.ndarray) -> None:
        nonlocal values, weights
        values = np.add.outer(values, v).ravel()
        weights = np.multiply.outer(weights, w).ravel()

    for cid, p in (config.driver_prevalence.items() if drivers else ()):
        add(np.array([0.0, config.betas[cid]]), np.array([1 - p, p]))
    for field in fields:
        pairs, effects = (getattr(config, name) for name in _CONTROL_EFFECTS[field])
        cats, w = _weights(pairs, cb.fields[field].values, field, cb)
        add(_effects(effects, np.array(cats, dtype=object)), w)
    if waves:
        add(config.wave_effect * np.arange(config.waves), np.full(config.waves, 1.0 / config.waves))
    values, inverse = np.unique(np.round(values, 12), return_inverse=True)
    return values, np.bincount(inverse, weights=weights)


def _disconnect_mixture(config: SimulationConfig,
                        cb: Codebook) -> tuple[np.ndarray, np.ndarray, float, float]:
    """The population distribution of D as a discrete part plus a normal part.

    Returns (support points of the centred discrete part, their probabilities, the variance of
    the normal part, the population mean of the uncentred D). Binary drivers and the control
    categories are discrete; continuous drivers, the firm effect and the firm-wave noise are
    normal. Used to centre D and to calibrate item means exactly.
    """
    values, weights = discrete_disconnect(config, cb)
    mean = float(np.sum(values * weights))
    var_normal = (sum(config.betas[c] ** 2 for c in CONTINUOUS_DRIVERS)
                  + config.firm_effect_sd**2 + config.firm_wave_sd**2)
    return values - mean, weights, float(var_normal), mean


def _latent(config: SimulationConfig, firms: pd.DataFrame, cb: Codebook) -> pd.DataFrame:
    """The latent truth for every firm x wave (participating or not), wave-major order."""
    rng = _rng(config, _LATENT)
    shape = (len(firms), config.waves)
    x = {cid: _binary_panel(rng, shape, p, config.driver_keep)
         for cid, p in config.driver_prevalence.items()}
    x.update({cid: _normal_panel(rng, shape, config.driver_rho) for cid in CONTINUOUS_DRIVERS})
    firm_effect = np.repeat(rng.normal(0, config.firm_effect_sd, (shape[0], 1)), shape[1], 1)
    noise = rng.normal(0, config.firm_wave_sd, shape)
    control = (_effects(config.country_effects, firms["country"].to_numpy())
               + _effects(config.industry_effects, firms["industry"].to_numpy())
               + _effects(config.size_effects, firms["size_band"].to_numpy()))[:, None]
    control = control + config.wave_effect * np.arange(config.waves)[None, :]
    mean = _disconnect_mixture(config, cb)[3]
    d = sum(config.betas[c] * x[c] for c in DRIVERS) + control + firm_effect + noise - mean
    perceived = {r: d + rng.normal(0, config.perception_sd, shape) for r in ("CMO", "CIO")}
    su_base = rng.normal(0, config.su_base_sd, shape)
    su = {r: su_base + config.su_on_disconnect * d + rng.normal(0, config.su_role_sd, shape)
          for r in ("CMO", "CIO")}
    out = {cid: x[cid] for cid in DRIVERS}
    out.update(control_effect=np.broadcast_to(control, shape), firm_effect=firm_effect, disconnect=d,
               disconnect_cmo=perceived["CMO"], disconnect_cio=perceived["CIO"],
               su_cmo=su["CMO"], su_cio=su["CIO"])
    out.update(_outcomes(config, rng, d, su["CMO"], su["CIO"], x["data_readiness"]))
    return _long(firms, config, out)


def _outcomes(config: SimulationConfig, rng: np.random.Generator, d: np.ndarray, su_x: np.ndarray,
              su_y: np.ndarray, readiness: np.ndarray) -> dict[str, np.ndarray]:
    """Joint project success (response surface), project failure and customer insight."""
    c = config
    success = (c.success_intercept + c.success_b_cmo * su_x + c.success_b_cio * su_y
               + c.success_gap * (su_x - su_y) ** 2 + c.success_on_disconnect * d
               + rng.normal(0, c.success_sd, d.shape))
    p_fail = special.expit(c.failure_intercept + c.failure_on_disconnect * d)
    failed = (rng.random(d.shape) < p_fail).astype(np.int64)
    insight = (c.insight_intercept + c.insight_on_disconnect * d
               + c.insight_on_readiness * readiness + rng.normal(0, c.insight_sd, d.shape))
    return {"project_success": success, "project_failure_p": p_fail, "project_failed": failed,
            "customer_insight": insight}


def _long(firms: pd.DataFrame, config: SimulationConfig,
          arrays: Mapping[str, np.ndarray]) -> pd.DataFrame:
    """(firm, wave) arrays to one row per firm-wave, wave-major (all firms of wave 1 first)."""
    n, w = len(firms), config.waves
    waves = np.repeat(np.arange(1, w + 1), n)
    frame = pd.DataFrame({
        "firm_idx": np.tile(np.arange(n), w), "firm_id": np.tile(firms["firm_id"].to_numpy(), w),
        "wave": waves, "year": config.first_wave_year + waves - 1,
    })
    for column in ("country", "industry", "size_band", "firm_name"):
        frame[column] = np.tile(firms[column].to_numpy(), w)
    for name, values in arrays.items():
        frame[name] = np.asarray(values).T.ravel()
    return frame


# --------------------------------------------------------------------------- calibration
def _item_kind(item: Item, cb: Codebook) -> str:
    """How an item is generated: indicator, driver, binary_report, failure, structural, outcome."""
    construct = cb.constructs[item.construct]
    if construct.kind == "indicator":
        return "indicator"
    if construct.kind == "driver":
        binary = item.scale.type == "binary" and construct.id in BINARY_DRIVERS
        return "binary_report" if binary else "driver"
    if construct.id == FAILURE_CONSTRUCT and item.scale.type == "binary":
        return "failure"
    if construct.id in STRUCTURAL_OUTCOMES:
        return "structural"
    return "outcome"


def _direction(item: Item) -> float:
    """+1 if the raw answer rises with the construct, -1 for reverse-keyed items."""
    return -1.0 if item.reverse else 1.0


def _disconnect_sign(construct_id: str, cb: Codebook) -> float:
    return 1.0 if cb.constructs[construct_id].disconnect == "higher_is_worse" else -1.0


def _latent_spec(item: Item, cb: Codebook, config: SimulationConfig,
                 var_d: float) -> tuple[float, float]:
    """(a, v): the item's latent answer is mu + a * D_discrete + N(0, v) in the population.

    ``var_d`` is the variance of the normal part of D. Mirrors the generating code in
    :func:`_item_latent`; the calibration test guards the two against drifting apart.
    """
    c, o = config, _direction(item)
    kind = _item_kind(item, cb)
    if kind == "indicator":
        s = _disconnect_sign(item.construct, cb)
        if item.construct == SU_CONSTRUCT:
            v = (var_d + (s - c.su_on_disconnect) ** 2 * c.perception_sd**2 + c.su_base_sd**2
                 + c.su_role_sd**2 + c.item_sd**2)
        else:
            v = var_d + c.perception_sd**2 + c.construct_sd**2 + c.item_sd**2
        return o * s, v
    if kind == "driver":
        return 0.0, c.driver_loading**2 + c.driver_item_sd**2
    k = c.improved_on_disconnect if item.construct == IMPROVED_CONSTRUCT else 0.0
    return o * k, k**2 * (var_d + c.perception_sd**2) + c.improved_sd**2


def _top_box_share(mu: float, a: float, v: float, threshold: float, values: np.ndarray,
                   weights: np.ndarray) -> float:
    return float(np.sum(weights * special.ndtr((mu + a * values - threshold) / np.sqrt(v))))


def _solve_mu(target: float, a: float, v: float, threshold: float, values: np.ndarray,
              weights: np.ndarray) -> float:
    """Item mean whose population top-box share P(latent >= threshold) equals ``target``."""
    sd = np.sqrt(v)
    if a == 0.0:
        return float(threshold + sd * special.ndtri(target))
    span = 12 * sd + abs(a) * float(np.max(np.abs(values)))
    return float(optimize.brentq(
        lambda mu: _top_box_share(mu, a, v, threshold, values, weights) - target,
        threshold - span, threshold + span, xtol=1e-10))


def _targets(item: Item, role: str, linked: Mapping[tuple[str, str], tuple[str, float]]
             ) -> tuple[float, str, str | None]:
    """(target, source, figure_id) for one item and role: benchmark, 'all' link or assumption."""
    for key in (role, "all"):
        if (item.id, key) in linked:
            figure_id, target = linked[(item.id, key)]
            return target, "benchmark" if key == role else "benchmark (all)", figure_id
    assumed = ASSUMED_TOP_BOX.get(item.id, {}).get(role)
    if assumed is not None:
        return assumed, "assumed", None
    return DEFAULT_TOP_BOX, "assumed (default)", None


def _without_straightliners(target: float, item: Item, config: SimulationConfig) -> float:
    """The top-box share the other respondents need so that, with the straight-liners, the
    expected share is ``target`` (straight-liners answer every Likert item alike)."""
    if item.scale.type != "likert" or config.straightliner_share == 0:
        return target
    values = np.clip(STRAIGHTLINE_VALUES, item.scale.min, item.scale.max)
    q = float(np.sum(np.array(STRAIGHTLINE_P)[np.isin(values, item.scale.top_box)]))
    share = config.straightliner_share
    return float(np.clip((target - share * q) / (1 - share), 1e-6, 1 - 1e-6))


def calibration_table(config: SimulationConfig, codebook: Codebook | None = None,
                      reference_path: str | Path | None = None) -> pd.DataFrame:
    """Per calibrated item and role: target top-box share, its source, the solved mean ``mu``.

    Columns: item, role, target, source (benchmark / benchmark (all) / assumed), figure_id, mu,
    loading (on D), sd (total latent SD). ``mu`` is solved exactly (normal mixture over the
    discrete part of D) so that the expected top-box share of the rounded answers, including the
    injected straight-liners, equals ``target``. Items whose means are structural (joint project success,
    customer insight) or that report a fact (yes/no drivers, project failure) are not listed.
    """
    cb = codebook or load_codebook()
    links = benchmark_targets(cb, reference_path)
    linked = {(r.item, r.role): (r.figure_id, r.target) for r in links.itertuples()}
    values, weights, var_d, _ = _disconnect_mixture(config, cb)
    rows = []
    for item in cb.items.values():
        if _item_kind(item, cb) not in ("indicator", "driver", "outcome"):
            continue
        threshold = min(item.scale.top_box) - 0.5
        a, v = _latent_spec(item, cb, config, var_d)
        for role in item.roles:
            target, source, figure_id = _targets(item, role, linked)
            latent_target = _without_straightliners(target, item, config)
            mu = _solve_mu(latent_target, a, v, threshold, values, weights)
            rows.append({"item": item.id, "role": role, "target": target, "source": source,
                         "figure_id": figure_id, "mu": mu, "loading": a, "sd": float(np.sqrt(v))})
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- survey
def _panel(config: SimulationConfig) -> pd.DataFrame:
    """Respondents: firm_idx, wave, role; at least one wave per firm, one executive per firm-wave."""
    rng = _rng(config, _PANEL)
    n, w = config.firms, config.waves
    takes_part = rng.random((n, w)) < config.p_wave
    forced = rng.integers(0, w, n)
    none = ~takes_part.any(axis=1)
    takes_part[none, forced[none]] = True
    cmo = rng.random((n, w)) < config.p_cmo
    cio = rng.random((n, w)) < config.p_cio
    pick_cmo = rng.random((n, w)) < config.p_cmo / (config.p_cmo + config.p_cio)
    neither = ~(cmo | cio)
    cmo |= neither & pick_cmo
    cio |= neither & ~pick_cmo
    parts = []
    for role, present in (("CMO", cmo), ("CIO", cio)):
        firm_idx, wave_idx = np.nonzero(takes_part & present)
        parts.append(pd.DataFrame({"firm_idx": firm_idx, "wave": wave_idx + 1, "role": role}))
    panel = pd.concat(parts, ignore_index=True)
    panel["role_order"] = (panel["role"] == "CIO").astype(int)
    panel = panel.sort_values(["wave", "firm_idx", "role_order"], kind="stable")
    return panel.drop(columns="role_order").reset_index(drop=True)


def _item_latent(item: Item, cb: Codebook, config: SimulationConfig, rng: np.random.Generator,
                 ctx: Mapping[str, Any]) -> np.ndarray:
    """The latent (continuous) answer of every respondent to one item (before rounding)."""
    c, o, kind = config, _direction(item), _item_kind(item, cb)
    n = len(ctx["mu"])
    e = rng.standard_normal(n)
    if kind == "indicator":
        s = _disconnect_sign(item.construct, cb)
        if item.construct == SU_CONSTRUCT:
            true_score = (s - c.su_on_disconnect) * ctx["d_r"] + ctx["su_r"]
        else:
            true_score = s * ctx["d_r"] + ctx["factor"][item.construct]
        return ctx["mu"] + o * true_score + c.item_sd * e
    if kind == "driver":
        z = ctx["drivers"][item.construct]
        return ctx["mu"] + o * c.driver_loading * z + c.driver_item_sd * e
    if kind == "structural":
        column = "project_success" if item.construct == "joint_project_success" else "customer_insight"
        return ctx["latent"][column] + c.outcome_item_sd * e
    if kind in ("binary_report", "failure"):
        fact = ctx["latent"]["project_failed" if kind == "failure" else item.construct]
        wrong = rng.random(n) >= c.report_accuracy
        return np.where(wrong, 1 - fact, fact).astype(float)
    k = c.improved_on_disconnect if item.construct == IMPROVED_CONSTRUCT else 0.0
    return ctx["mu"] + o * k * ctx["d_r"] + c.improved_sd * e


def _respondent_context(config: SimulationConfig, cb: Codebook, rng: np.random.Generator,
                        resp: pd.DataFrame, latent: pd.DataFrame) -> dict[str, Any]:
    """Per-respondent latent quantities shared by the items."""
    lat = latent.iloc[resp["latent_row"].to_numpy()].reset_index(drop=True)
    is_cmo = (resp["role"] == "CMO").to_numpy()
    drivers = {}
    for cid in DRIVERS:
        x = lat[cid].to_numpy(dtype=float)
        if cid in BINARY_DRIVERS:
            p = config.driver_prevalence[cid]
            x = (x - p) / np.sqrt(p * (1 - p))
        drivers[cid] = x
    for cid, con in cb.constructs.items():  # a driver added to the codebook later: pure noise
        if con.kind == "driver" and cid not in drivers:
            drivers[cid] = rng.standard_normal(len(resp))
    indicators = [cid for cid, con in cb.constructs.items() if con.kind == "indicator"]
    factor = {cid: rng.normal(0, config.construct_sd, len(resp)) for cid in indicators}
    return {
        "latent": {col: lat[col].to_numpy() for col in lat.columns},
        "d_r": np.where(is_cmo, lat["disconnect_cmo"], lat["disconnect_cio"]),
        "su_r": np.where(is_cmo, lat["su_cmo"], lat["su_cio"]),
        "drivers": drivers, "factor": factor,
    }


def _answers(config: SimulationConfig, cb: Codebook, resp: pd.DataFrame, latent: pd.DataFrame,
             calib: pd.DataFrame, discrete: bool) -> pd.DataFrame:
    """Item answers (float64; NaN where the item is not asked of the role)."""
    rng = _rng(config, _ITEMS)
    ctx = _respondent_context(config, cb, rng, resp, latent)
    mu_of = {(r.item, r.role): r.mu for r in calib.itertuples()}
    roles = resp["role"].to_numpy()
    out = {}
    for item in cb.items.values():
        ctx["mu"] = np.array([mu_of.get((item.id, r), np.nan) for r in roles])
        y = _item_latent(item, cb, config, rng, ctx)
        if discrete and _item_kind(item, cb) not in ("binary_report", "failure"):
            y = np.clip(np.floor(y + 0.5), item.scale.min, item.scale.max)
        out[item.id] = np.where(np.isin(roles, item.roles), y, np.nan)
    answers = pd.DataFrame(out)
    if discrete:
        _straightline(answers, cb, resp, rng, config.straightliner_share)
    return answers


def _straightline(answers: pd.DataFrame, cb: Codebook, resp: pd.DataFrame,
                  rng: np.random.Generator, share: float) -> None:
    """Make ``share`` of respondents give one and the same answer to every agree5 item (in place)."""
    chosen = rng.random(len(answers)) < share
    value = rng.choice(STRAIGHTLINE_VALUES, len(answers), p=STRAIGHTLINE_P).astype(float)
    roles = resp["role"].to_numpy()
    for item in cb.items.values():
        if item.scale.type == "likert":
            rows = chosen & np.isin(roles, item.roles)
            clipped = np.clip(value, item.scale.min, item.scale.max)
            answers[item.id] = np.where(rows, clipped, answers[item.id].to_numpy())


def simulate_survey(config: SimulationConfig, *, discrete: bool = True,
                    codebook: Codebook | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Simulate survey responses and return ``(survey, truth)``.

    ``survey``: one row per respondent; columns exactly the codebook fields, then every codebook
    item in codebook order. Item answers are float64 with NaN where the item is not asked of the
    role. With ``discrete=True`` Likert answers are rounded and clipped to the scale (and ~2 %
    straight-liners are injected); with ``discrete=False`` they are the continuous latent answers
    (no rounding, clipping or straight-lining) — yes/no items are 0/1 reports in both modes.

    ``truth``: one row per participating firm-wave with the latent drivers (named by construct
    id), the disconnect ``disconnect`` (D) and each role's perception, the shared-understanding
    latents ``su_cmo`` (X) and ``su_cio`` (Y), the outcome latents, the shadow-IT share of the
    wave's year and the respondent ids of the CMO and the CIO.

    The *disconnect index* of a respondent is the mean, over the indicator items asked of the
    role (constructs of kind ``indicator``), of the item's disconnect-oriented score: the
    reverse-keyed score ``s = item.score(x)``, taken as is when the construct is
    ``higher_is_worse`` and as ``min + max - s`` when it is ``higher_is_better``. It is on the
    1-5 scale and higher means more disconnect. Every indicator item loads exactly +1 on the
    respondent's perceived disconnect ``D_r = D + noise``, so in continuous mode the OLS of the
    index on the latent drivers recovers ``config.betas`` in expectation.
    """
    cb = codebook or load_codebook()
    firms = _firms(config, cb)
    latent = _latent(config, firms, cb)
    resp = _panel(config)
    resp["latent_row"] = (resp["wave"] - 1) * config.firms + resp["firm_idx"]
    width = max(5, len(str(len(resp))))
    resp["respondent_id"] = [f"R{i + 1:0{width}d}" for i in range(len(resp))]
    calib = calibration_table(config, cb)
    answers = _answers(config, cb, resp, latent, calib, discrete)
    fields = _respondent_fields(config, cb, resp, firms)
    survey = pd.concat([fields, answers], axis=1)
    return survey, _truth_frame(config, latent, resp, firms)


def _truth_frame(config: SimulationConfig, latent: pd.DataFrame, resp: pd.DataFrame,
                 firms: pd.DataFrame) -> pd.DataFrame:
    """The latent truth of the participating firm-waves, with the respondent ids."""
    truth = latent.copy()
    for role in ("CMO", "CIO"):
        ids = resp.loc[resp["role"] == role].set_index("latent_row")["respondent_id"]
        truth[f"{role.lower()}_respondent_id"] = ids.reindex(truth.index)
    present = truth["cmo_respondent_id"].notna() | truth["cio_respondent_id"].notna()
    shadow = ledger_truth(config, firms=firms, latent=latent)
    truth = truth.merge(shadow[["firm_id", "year", "shadow_it_share"]], on=["firm_id", "year"],
                        how="left")
    truth["revenue_eur"] = firms["revenue_eur"].to_numpy()[truth["firm_idx"].to_numpy()]
    return truth.loc[present.to_numpy()].drop(columns="firm_idx").reset_index(drop=True)


# --------------------------------------------------------------------------- personal fields
_FOLD = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "ø": "oe", "å": "aa",
                       "æ": "ae", "Ä": "Ae", "Ö": "Oe", "Ü": "Ue", "Ø": "Oe", "Å": "Aa",
                       "Æ": "Ae"})


def _ascii(text: str, sep: str) -> str:
    """Lower-case ASCII slug: umlauts and ø/å folded, other characters replaced by ``sep``."""
    text = unicodedata.normalize("NFKD", text.translate(_FOLD))
    text = text.encode("ascii", "ignore").decode().lower().replace("'", "")
    return re.sub(r"[^a-z0-9]+", sep, text).strip(sep)


NAMES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "de": (("Jürgen", "Anja", "Björn", "Jörg", "Käthe", "Günther", "Ursula", "Lukas", "Sophie",
            "Maximilian", "Katrin", "Matthias", "Sabine", "Tobias", "Claudia", "Özlem", "Lena",
            "Michael", "Dörte", "Jan"),
           ("Müller", "Schröder", "Weiß", "Köhler", "Groß", "Schäfer", "Hoffmann", "Becker",
            "Fischer", "Wagner", "Krüger", "Böhm", "Schmitt", "Wolff", "Zimmermann", "Hübner",
            "Jäger", "Vogel", "Gärtner", "Brückner")),
    "nl": (("Sanne", "Joost", "Maarten", "Femke", "Bram", "Eline", "Pieter", "Anouk", "Daan",
            "Inge", "Ruud", "Marieke", "Wouter", "Lotte", "Sjoerd", "Noor", "Geert", "Esther",
            "Thijs", "Chloë"),
           ("de Vries", "van den Berg", "Jansen", "Bakker", "Visser", "Smit", "van Dijk",
            "de Boer", "Mulder", "de Groot", "Bos", "Vos", "Peeters", "Janssens", "Maes",
            "Claes", "van der Meer", "Hendriks", "Dekker", "Verbeek")),
    "nordic": (("Søren", "Mette", "Jens", "Åse", "Bjørn", "Sigrid", "Lars", "Ingrid", "Mads",
                "Kirsten", "Astrid", "Henrik", "Signe", "Anders", "Maja", "Jørgen", "Frederik",
                "Linnéa", "Håkan", "Sofie"),
               ("Jørgensen", "Nielsen", "Sørensen", "Hansen", "Rasmussen", "Østergaard", "Bøgh",
                "Andersen", "Larsen", "Lindqvist", "Åberg", "Kristiansen", "Dahl", "Holm",
                "Nyström", "Løvaas", "Mørk", "Ødegård", "Kjær", "Strøm")),
    "en": (("Oliver", "Charlotte", "James", "Amelia", "Harry", "Emily", "George", "Sophie",
            "Thomas", "Hannah", "William", "Grace", "Siobhán", "Rhys", "Chloe", "Daniel", "Zoë",
            "Aisha", "Liam", "Eleanor"),
           ("Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Evans", "Roberts",
            "Walker", "O'Brien", "Murphy", "Clarke", "Hughes", "Patel", "Khan", "Wright",
            "Thompson", "Davies", "McLeod", "Ní Bhriain")),
}
NAME_GROUP = {"DE": "de", "AT": "de", "CH": "de", "NL": "nl", "BE": "nl", "DK": "nordic",
              "NO": "nordic", "SE": "nordic", "FI": "nordic"}

COMMENTS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    # (comments without a name, comments that mention the respondent's own name)
    "EN": (("Collaboration with IT has improved since we started joint sprints.",
            "Hard to answer: we are in the middle of a reorganisation.",
            "Our budget for marketing technology is split between two departments.",
            "The survey was too long.",
            "We have just hired a marketing technologist to bridge the gap."),
           ("Happy to discuss the results - {name}.",
            "This is {first} from the leadership team; we now share a budget with the other side.",
            "Please send the report to {name} personally.")),
    "DE": (("Die Zusammenarbeit mit der IT hat sich durch gemeinsame Sprints verbessert.",
            "Schwer zu beantworten, da wir gerade umstrukturieren.",
            "Unser MarTech-Budget ist auf zwei Abteilungen verteilt.",
            "Der Fragebogen war zu lang.",
            "Datenschutzfragen bremsen viele Projekte aus."),
           ("Bei Rückfragen gerne an mich wenden – {name}.",
            "Ich bin {first} und verantworte das Thema seit drei Jahren.",
            "Bitte den Bericht an {name} schicken.")),
    "NL": (("De samenwerking met IT is beter geworden sinds de gezamenlijke sprints.",
            "Lastig te beantwoorden; we zitten midden in een reorganisatie.",
            "Ons martech-budget is verdeeld over twee afdelingen.",
            "De vragenlijst was te lang."),
           ("Neem gerust contact op: {name}.",
            "Ik ben {first} en ik ben sinds vorig jaar verantwoordelijk voor dit thema.")),
    "DA": (("Samarbejdet med IT er blevet bedre, siden vi begyndte med fælles sprints.",
            "Svært at svare på, vi er midt i en omstrukturering.",
            "Vores martech-budget er delt mellem to afdelinger.",
            "Spørgeskemaet var for langt."),
           ("Kontakt mig gerne: {name}.",
            "Jeg hedder {first} og har ansvaret for området.")),
}


def _respondent_fields(config: SimulationConfig, cb: Codebook, resp: pd.DataFrame,
                       firms: pd.DataFrame) -> pd.DataFrame:
    """The codebook fields: ids, segments, paradata and fake (clearly synthetic) personal data."""
    rng = _rng(config, _PERSONAL)
    n = len(resp)
    firm = firms.iloc[resp["firm_idx"].to_numpy()].reset_index(drop=True)
    language = [LANGUAGE_OF_COUNTRY.get(c, "EN") for c in firm["country"]]
    first, last = _names(rng, firm["country"].to_numpy())
    email = [f"{_ascii(f, '')}.{_ascii(la, '')}@{s}.example"
             for f, la, s in zip(first, last, firm["slug"], strict=True)]
    values = {
        "respondent_id": resp["respondent_id"].to_numpy(), "firm_id": firm["firm_id"].to_numpy(),
        "role": resp["role"].to_numpy(), "country": firm["country"].to_numpy(),
        "industry": firm["industry"].to_numpy(), "size_band": firm["size_band"].to_numpy(),
        "wave": resp["wave"].to_numpy(dtype=np.int64),
        "year": config.first_wave_year + resp["wave"].to_numpy(dtype=np.int64) - 1,
        "language": np.array(language),
        "duration_seconds": _durations(config, rng, n),
        "name": np.array([f"{f} {la}" for f, la in zip(first, last, strict=True)]),
        "email": np.array(email),
        "ip_address": np.array([f"{DOC_IP_PREFIXES[p]}.{h}" for p, h in zip(
            rng.integers(0, 3, n), rng.integers(1, 255, n), strict=True)]),
        "comment": _comments(config, rng, language, first, last),
    }
    columns = {name: values.get(name, pd.Series([None] * n, dtype="object"))
               for name in cb.fields}
    return pd.DataFrame(columns)


def _names(rng: np.random.Generator, countries: np.ndarray) -> tuple[list[str], list[str]]:
    i, j = rng.integers(0, 20, len(countries)), rng.integers(0, 20, len(countries))
    groups = [NAMES[NAME_GROUP.get(c, "en")] for c in countries]
    return ([g[0][a] for g, a in zip(groups, i, strict=True)],
            [g[1][b] for g, b in zip(groups, j, strict=True)])


def _durations(config: SimulationConfig, rng: np.random.Generator, n: int) -> np.ndarray:
    """Lognormal completion times, floored at 0.4 x median, plus speeders below median / 3."""
    normal = config.duration_median * np.exp(config.duration_sigma * rng.standard_normal(n))
    normal = np.maximum(normal, 0.4 * config.duration_median)
    speeder = rng.random(n) < config.speeder_share
    fast = rng.uniform(0.1, 0.3, n) * config.duration_median
    return np.round(np.where(speeder, fast, normal))


def _comments(config: SimulationConfig, rng: np.random.Generator, language: Sequence[str],
              first: Sequence[str], last: Sequence[str]) -> pd.Series:
    has = rng.random(len(language)) < config.comment_share
    named = rng.random(len(language)) < config.comment_name_share
    pick = rng.integers(0, 1_000_000, len(language))
    out: list[str | None] = []
    for k, lang in enumerate(language):
        if not has[k]:
            out.append(None)
            continue
        plain, with_name = COMMENTS.get(lang, COMMENTS["EN"])
        pool = with_name if named[k] else plain
        out.append(pool[pick[k] % len(pool)].format(name=f"{first[k]} {last[k]}", first=first[k]))
    return pd.Series(out, dtype="str")


# --------------------------------------------------------------------------- FX and budgets
def _months(config: SimulationConfig) -> np.ndarray:
    start = np.datetime64(f"{config.years[0]}-01", "M")
    return start + np.arange(12 * len(config.years))


def fx_rates(config: SimulationConfig) -> pd.DataFrame:
    """Monthly (first of month) rates to EUR over the ledger period: a gentle log random walk."""
    rng = _rng(config, _FX)
    months = _months(config)
    frames = []
    for cur, level in FX_LEVELS.items():
        steps = rng.normal(0, FX_MONTHLY_SD[cur], len(months))
        steps[0] = 0.0
        rate = level * np.exp(np.cumsum(steps) - np.cumsum(steps).mean())
        frames.append(pd.DataFrame({"date": months.astype("datetime64[D]").astype(object),
                                    "currency": cur, "rate_to_eur": np.round(rate, 6)}))
    return pd.concat(frames, ignore_index=True)


FX_SCHEMA = pa.schema([("date", pa.date32()), ("currency", pa.string()),
                       ("rate_to_eur", pa.float64())])


def _fx_matrix(fx: pd.DataFrame, currencies: Sequence[str]) -> np.ndarray:
    """rate_to_eur as a (currency, month) array in the order of ``currencies``."""
    wide = fx.pivot(index="currency", columns="date", values="rate_to_eur")
    return wide.loc[list(currencies)].to_numpy(dtype=float)


def budget_paths(config: SimulationConfig,
                 reference_path: str | Path | None = None) -> pd.DataFrame:
    """The population budget ratios per year: the truth behind ``budgets.parquet``.

    Columns: year, marketing_pct_revenue (Gartner's figure for the nearest published year),
    marketing_figure_years, it_pct_revenue (linear from ``it_pct_first`` to ``it_pct_last``),
    tech_share (marketing's share of technology spend, rising by ``tech_share_drift`` a year),
    martech_share (of the marketing budget, derived so that the tech share holds) and
    gartner_martech_share (Gartner's nearest-year martech share, for comparison).
    """
    figures = _read_figures(_reference_path(reference_path))
    marketing = _gartner_series(figures, "budget_pct_revenue")
    martech = _gartner_series(figures, "martech_share")
    years = config.years
    rows = []
    for k, year in enumerate(years):
        m, m_years = _nearest(marketing, year)
        frac = k / max(len(years) - 1, 1)
        it = config.it_pct_first + frac * (config.it_pct_last - config.it_pct_first)
        tech = config.tech_share_first + config.tech_share_drift * k
        rows.append({"year": year, "marketing_pct_revenue": m,
                     "marketing_figure_years": m_years, "it_pct_revenue": it,
                     "tech_share": tech, "martech_share": tech / (1 - tech) * it / m,
                     "gartner_martech_share": _nearest(martech, year)[0]})
    return pd.DataFrame(rows)


def _mean_one(rng: np.random.Generator, sd: float, shape: tuple[int, ...]) -> np.ndarray:
    """Lognormal factors with mean exactly 1."""
    return np.exp(sd * rng.standard_normal(shape) - sd**2 / 2)


def simulate_budgets(config: SimulationConfig, *, codebook: Codebook | None = None,
                     reference_path: str | Path | None = None) -> pd.DataFrame:
    """One row per firm and year: revenue and IT, marketing and martech budgets (local currency).

    Marketing budget / revenue follows Gartner's CMO Spend Survey figure of the year, IT budget /
    revenue and marketing's share of technology spend follow :func:`budget_paths`; firms differ
    by persistent and yearly lognormal factors with mean 1.
    """
    cb = codebook or load_codebook()
    firms = _firms(config, cb)
    plan = budget_paths(config, reference_path)
    rng = _rng(config, _BUDGETS)
    n, y = len(firms), len(plan)
    growth = rng.normal(config.revenue_growth_mean, config.revenue_growth_sd, n)[:, None]
    shocks = rng.normal(0, 0.03, (n, y))
    shocks[:, 0] = 0.0
    revenue_eur = firms["revenue_eur"].to_numpy()[:, None] * np.cumprod(
        np.where(np.arange(y) == 0, 1.0, 1 + growth + shocks), axis=1)
    mkt = (plan["marketing_pct_revenue"].to_numpy() * _mean_one(rng, config.marketing_firm_sd, (n, 1))
           * _mean_one(rng, config.marketing_year_sd, (n, y)))
    it = (plan["it_pct_revenue"].to_numpy() * _mean_one(rng, config.it_firm_sd, (n, 1))
          * _mean_one(rng, config.it_year_sd, (n, y)))
    martech = (plan["martech_share"].to_numpy() * _mean_one(rng, config.martech_firm_sd, (n, 1))
               * _mean_one(rng, config.martech_year_sd, (n, y)))
    rate = _annual_rates(config, firms["currency"].to_numpy())
    revenue = revenue_eur / rate
    return pd.DataFrame({
        "firm_id": np.repeat(firms["firm_id"].to_numpy(), y),
        "year": np.tile(plan["year"].to_numpy(dtype=np.int64), n),
        "currency": np.repeat(firms["currency"].to_numpy(), y),
        "revenue": np.round(revenue, 0).ravel(),
        "it_budget": np.round(revenue * it, 0).ravel(),
        "marketing_budget": np.round(revenue * mkt, 0).ravel(),
        "martech_budget": np.round(revenue * mkt * martech, 0).ravel(),
        "synthetic": True,
    })


def _annual_rates(config: SimulationConfig, currencies: np.ndarray) -> np.ndarray:
    """(firm, year) average rate_to_eur of each firm's currency."""
    fx = fx_rates(config)
    fx["year"] = [d.year for d in fx["date"]]
    annual = fx.groupby(["currency", "year"])["rate_to_eur"].mean().unstack("year")
    return annual.loc[list(currencies), list(config.years)].to_numpy(dtype=float)


# --------------------------------------------------------------------------- ledger
COST_CENTERS = ("IT", "Marketing", "Sales", "Finance", "HR", "Operations")
CATEGORIES = ("software", "cloud_infrastructure", "hardware", "it_services", "advertising_media",
              "agency", "travel", "office", "other")
TECH_CATEGORIES = ("software", "cloud_infrastructure", "hardware", "it_services")
PAYMENTS = ("corporate_card", "purchase_order", "invoice", "expense_claim")
LEDGER_CURRENCIES = ("EUR", "DKK", "CHF", "GBP", "SEK", "NOK", "USD", "XXX")
SHADOW_IT_RULE = ("vendor_category in (software, cloud_infrastructure) and cost_center != IT and "
                  "payment_method not in (purchase_order, invoice), i.e. corporate_card or "
                  "expense_claim: technology bought by a business unit outside IT purchasing "
                  "(helpers.spend.DEFAULT_RULE). Technology spend = vendor_category in "
                  "(software, cloud_infrastructure, hardware, it_services).")

# Row classes: who buys what, how, for how much (EUR median, lognormal sigma). Class 0 is shadow
# IT; classes 1-3 are the other technology purchases (same amount distribution); 4-8 the rest.
_NON_IT = {"Marketing": 0.45, "Sales": 0.20, "Finance": 0.12, "HR": 0.10, "Operations": 0.13}
LEDGER_CLASSES: tuple[dict[str, Any], ...] = (
    {"name": "shadow_it", "cc": {"Marketing": 0.55, "Sales": 0.20, "Finance": 0.07, "HR": 0.08,
                                 "Operations": 0.10},
     "cat": {"software": 0.75, "cloud_infrastructure": 0.25},
     "pay": {"corporate_card": 0.75, "expense_claim": 0.25}, "median": 250.0, "sigma": 1.0},
    {"name": "it_purchase", "cc": {"IT": 1.0},
     "cat": {"software": 0.30, "cloud_infrastructure": 0.25, "hardware": 0.20, "it_services": 0.25},
     "pay": {"purchase_order": 0.50, "invoice": 0.42, "corporate_card": 0.08},
     "median": 2500.0, "sigma": 1.3},
    {"name": "sanctioned_business_software", "cc": _NON_IT,
     "cat": {"software": 0.75, "cloud_infrastructure": 0.25},
     "pay": {"purchase_order": 0.5, "invoice": 0.5}, "median": 2500.0, "sigma": 1.3},
    {"name": "business_hardware_services", "cc": _NON_IT,
     "cat": {"hardware": 0.6, "it_services": 0.4},
     "pay": {"purchase_order": 0.4, "invoice": 0.4, "corporate_card": 0.2},
     "median": 2500.0, "sigma": 1.3},
    {"name": "advertising", "cc": {"Marketing": 0.9, "Sales": 0.1},
     "cat": {"advertising_media": 1.0},
     "pay": {"invoice": 0.6, "purchase_order": 0.3, "corporate_card": 0.1},
     "median": 3000.0, "sigma": 1.2},
    {"name": "agency", "cc": {"Marketing": 0.85, "Sales": 0.10, "HR": 0.05}, "cat": {"agency": 1.0},
     "pay": {"invoice": 0.6, "purchase_order": 0.4}, "median": 8000.0, "sigma": 1.0},
    {"name": "travel", "cc": {"IT": 0.12, "Marketing": 0.20, "Sales": 0.30, "Finance": 0.10,
                              "HR": 0.08, "Operations": 0.20},
     "cat": {"travel": 1.0}, "pay": {"corporate_card": 0.5, "expense_claim": 0.4, "invoice": 0.1},
     "median": 350.0, "sigma": 0.9},
    {"name": "office", "cc": {"IT": 0.15, "Marketing": 0.15, "Sales": 0.15, "Finance": 0.15,
                              "HR": 0.15, "Operations": 0.25},
     "cat": {"office": 1.0},
     "pay": {"corporate_card": 0.3, "purchase_order": 0.3, "invoice": 0.3, "expense_claim": 0.1},
     "median": 120.0, "sigma": 0.9},
    {"name": "other", "cc": {"IT": 0.10, "Marketing": 0.15, "Sales": 0.15, "Finance": 0.20,
                             "HR": 0.15, "Operations": 0.25},
     "cat": {"other": 1.0},
     "pay": {"invoice": 0.5, "purchase_order": 0.3, "corporate_card": 0.1, "expense_claim": 0.1},
     "median": 600.0, "sigma": 1.1},
)
TECH_CLASS_P = (0.75, 0.12, 0.13)            # classes 1-3 among non-shadow technology rows
OTHER_CLASS_P = (0.25, 0.12, 0.28, 0.20, 0.15)  # classes 4-8 among non-technology rows

VENDORS: dict[str, tuple[str, ...]] = {
    "software": ("Cloudora CRM", "Brightlane Analytics", "Mailorca", "Segmently", "Tagwise CDP",
                 "Flowbyte Automation", "Nordsoft ERP", "Ledgerly", "Quillboard", "Surveyfox",
                 "Canvasly Design", "Pixelpond DAM"),
    "cloud_infrastructure": ("Stratus Compute", "Nimbus Hosting", "Alpen Cloud",
                             "Fjord Storage", "Polder Datacenter", "Skyrack CDN"),
    "hardware": ("Bitmark Devices", "Rheinland Hardware", "Nordic Screens", "Kernwerk Systems",
                 "Printhaus"),
    "it_services": ("Syncwise Consulting", "Codeforge Partners", "Bitbridge Services",
                    "Helix IT Solutions", "Kanaal Integration"),
    "advertising_media": ("AdPilot Media", "Reachline Ads", "Socialio Ads", "Streamcast Media",
                          "Billboard Europa", "Searchmint"),
    "agency": ("Studio Vonk", "Blauwe Maan Creative", "Hygge Brand Lab", "Werbewerk Agentur",
               "Northstar PR"),
    "travel": ("Skyhop Travel", "Railgo", "Hotelia", "Taxi Central"),
    "office": ("Paperpoint Office", "Deskwise", "Kaffe & Co", "Officeland"),
    "other": ("Generic Supplies", "Facility Partners", "Eventum", "Trainify Academy"),
}
UNMAPPED_VENDORS = ("Tagwise CDP", "Skyrack CDN", "Socialio Ads", "Eventum")


def _cum_table(dists: Sequence[Mapping[str, float]], labels: Sequence[str]) -> np.ndarray:
    """Cumulative probabilities per group over ``labels`` (rows padded with 1.0)."""
    table = np.array([[d.get(lab, 0.0) for lab in labels] for d in dists], dtype=float)
    table /= table.sum(axis=1, keepdims=True)
    cum = np.cumsum(table, axis=1)
    last = table.shape[1] - 1 - np.argmax(table[:, ::-1] > 0, axis=1)
    cum[np.arange(table.shape[1])[None, :] >= last[:, None]] = 1.0  # no float gap at the top
    return cum


def _pick(cum: np.ndarray, group: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Vectorised categorical draw: the index of the first cumulative probability above ``u``."""
    return (u[:, None] >= cum[group]).sum(axis=1)


_CC_CUM = _cum_table([c["cc"] for c in LEDGER_CLASSES], COST_CENTERS)
_CAT_CUM = _cum_table([c["cat"] for c in LEDGER_CLASSES], CATEGORIES)
_PAY_CUM = _cum_table([c["pay"] for c in LEDGER_CLASSES], PAYMENTS)
_MEDIAN = np.array([c["median"] for c in LEDGER_CLASSES])
_SIGMA = np.array([c["sigma"] for c in LEDGER_CLASSES])
_VENDOR_NAMES = [v for cat in CATEGORIES for v in VENDORS[cat]]
_VENDOR_OFFSET = np.cumsum([0] + [len(VENDORS[cat]) for cat in CATEGORIES[:-1]])
_VENDOR_CUM = _cum_table(
    [{str(k): 1.0 / (k + 1) for k in range(len(VENDORS[cat]))} for cat in CATEGORIES],
    [str(k) for k in range(max(len(v) for v in VENDORS.values()))])


def vendors_table() -> pd.DataFrame:
    """vendor -> vendor_category; :data:`UNMAPPED_VENDORS` are deliberately left out."""
    rows = [{"vendor": v, "vendor_category": cat} for cat in CATEGORIES for v in VENDORS[cat]
            if v not in UNMAPPED_VENDORS]
    return pd.DataFrame(rows)


def ledger_truth(config: SimulationConfig, *, codebook: Codebook | None = None,
                 firms: pd.DataFrame | None = None,
                 latent: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per firm and ledger year: the disconnect that applies, the true shadow-IT share, row weight.

    The shadow-IT share of technology spend is
    ``clip(shadow_intercept + shadow_on_disconnect * D + N(0, shadow_sd), shadow_min, shadow_max)``
    where D is the firm's disconnect in the wave of that year (:meth:`SimulationConfig.wave_of_year`).
    ``row_weight`` (proportional to the square root of revenue) spreads ledger rows over firm-years.
    """
    cb = codebook or load_codebook()
    firms = _firms(config, cb) if firms is None else firms
    latent = _latent(config, firms, cb) if latent is None else latent
    years = np.array(config.years)
    waves = np.array([config.wave_of_year(int(y)) for y in years])
    d = latent["disconnect"].to_numpy().reshape(config.waves, len(firms)).T  # (firm, wave)
    d_fy = d[:, waves - 1]
    rng = _rng(config, _SHADOW)
    share = np.clip(config.shadow_intercept + config.shadow_on_disconnect * d_fy
                    + rng.normal(0, config.shadow_sd, d_fy.shape),
                    config.shadow_min, config.shadow_max)
    weight = np.repeat(np.sqrt(firms["revenue_eur"].to_numpy())[:, None], len(years), axis=1)
    return pd.DataFrame({
        "firm_id": np.repeat(firms["firm_id"].to_numpy(), len(years)),
        "year": np.tile(years, len(firms)), "wave": np.tile(waves, len(firms)),
        "disconnect": d_fy.ravel(), "shadow_it_share": share.ravel(),
        "row_weight": (weight / weight.sum()).ravel(),
        "currency": np.repeat(firms["currency"].to_numpy(), len(years)),
    })


@dataclass(frozen=True)
class _LedgerPlan:
    """Per firm-year arrays that every ledger block samples from."""

    firm_idx: np.ndarray
    firm_ids: pa.Array
    cum_weight: np.ndarray
    jan1: np.ndarray          # days since 1970-01-01 of 1 January of the firm-year
    days: np.ndarray          # days in that year
    currency: np.ndarray      # index into LEDGER_CURRENCIES
    shadow_p: np.ndarray      # P(shadow row | technology row)
    fx: np.ndarray            # (currency, month) rate_to_eur
    first_month: int
    last_day: int


def _ledger_plan(config: SimulationConfig) -> _LedgerPlan:
    cb = load_codebook()
    firms = _firms(config, cb)
    truth = ledger_truth(config, codebook=cb, firms=firms)
    s = truth["shadow_it_share"].to_numpy()
    mean_shadow = _MEDIAN[0] * np.exp(_SIGMA[0] ** 2 / 2)
    mean_other = _MEDIAN[1] * np.exp(_SIGMA[1] ** 2 / 2)
    # Row probability that makes the expected *amount* share of shadow IT equal s.
    shadow_p = s * mean_other / (s * mean_other + (1 - s) * mean_shadow)
    years = truth["year"].to_numpy()
    jan1 = (years - 1970).astype("datetime64[Y]").astype("datetime64[D]").astype(np.int64)
    days = ((years - 1969).astype("datetime64[Y]").astype("datetime64[D]").astype(np.int64) - jan1)
    fx_currencies = LEDGER_CURRENCIES[:-1]
    months = _months(config)
    end = np.datetime64(f"{config.years[-1] + 1}-01-01", "D").astype(np.int64) - 1
    return _LedgerPlan(
        firm_idx=np.repeat(np.arange(len(firms)), len(config.years)),
        firm_ids=pa.array(firms["firm_id"].tolist(), pa.string()),
        cum_weight=np.cumsum(truth["row_weight"].to_numpy()),
        jan1=jan1, days=days,
        currency=np.array([LEDGER_CURRENCIES.index(c) for c in truth["currency"]]),
        shadow_p=shadow_p, fx=_fx_matrix(fx_rates(config), fx_currencies),
        first_month=int(months[0].astype(np.int64)), last_day=int(end))


LEDGER_SCHEMA = pa.schema([
    ("firm_id", pa.string()), ("booking_date", pa.date32()), ("cost_center", pa.string()),
    ("vendor", pa.string()), ("vendor_category", pa.string()), ("payment_method", pa.string()),
    ("currency", pa.string()), ("amount", pa.float64()),
])


def _ledger_block(plan: _LedgerPlan, config: SimulationConfig, block: int, n: int) -> pa.Table:
    """``n`` ledger rows from the block's own random stream (vectorised, no per-row Python)."""
    rng = _rng(config, _LEDGER, block)
    fy = np.minimum(np.searchsorted(plan.cum_weight, rng.random(n) * plan.cum_weight[-1],
                                    side="right"), len(plan.cum_weight) - 1)
    day = plan.jan1[fy] + (rng.random(n) * plan.days[fy]).astype(np.int64)
    tech = rng.random(n) < config.ledger_tech_share
    shadow = tech & (rng.random(n) < plan.shadow_p[fy])
    u = rng.random(n)
    tech_cls = 1 + np.searchsorted(np.cumsum(TECH_CLASS_P)[:-1], u, side="right")
    other_cls = 4 + np.searchsorted(np.cumsum(OTHER_CLASS_P)[:-1], u, side="right")
    cls = np.where(shadow, 0, np.where(tech, tech_cls, other_cls))
    cc = _pick(_CC_CUM, cls, rng.random(n))
    cat = _pick(_CAT_CUM, cls, rng.random(n))
    pay = _pick(_PAY_CUM, cls, rng.random(n))
    vendor = _VENDOR_OFFSET[cat] + _pick(_VENDOR_CUM, cat, rng.random(n))
    eur = _MEDIAN[cls] * np.exp(_SIGMA[cls] * rng.standard_normal(n))
    cur = plan.currency[fy]
    month = day.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64) - plan.first_month
    amount = np.round(eur / plan.fx[cur, month], 2)
    firm = plan.firm_idx[fy]
    _refunds(rng, config, plan, n, (firm, day, cc, cat, pay, vendor, cur), amount)
    firm_null = np.zeros(n, dtype=bool)
    if config.bad_rows > 0:
        bad = rng.random(n) < config.bad_rows
        half = rng.random(n) < 0.5
        cur = np.where(bad & half, len(LEDGER_CURRENCIES) - 1, cur)
        firm_null = bad & ~half
    return pa.table([
        plan.firm_ids.take(pa.array(firm, mask=firm_null)),
        pa.array(day.astype(np.int32)).cast(pa.date32()),
        _labels(COST_CENTERS, cc), _labels(_VENDOR_NAMES, vendor), _labels(CATEGORIES, cat),
        _labels(PAYMENTS, pay), _labels(LEDGER_CURRENCIES, cur), pa.array(amount, pa.float64()),
    ], schema=LEDGER_SCHEMA)


def _refunds(rng: np.random.Generator, config: SimulationConfig, plan: _LedgerPlan, n: int,
             columns: tuple[np.ndarray, ...], amount: np.ndarray) -> None:
    """Turn ``refund_share`` of rows into refunds of purchases in the same block (in place).

    A refund copies the purchase's firm, cost centre, category, payment method, vendor and
    currency, books the negative amount 3-45 days later (at most the last ledger day).
    """
    refund = rng.random(n) < config.refund_share
    purchases = np.flatnonzero(~refund)
    rows = np.flatnonzero(refund)
    if len(rows) == 0 or len(purchases) == 0:
        return
    src = purchases[rng.integers(0, len(purchases), len(rows))]
    lag = rng.integers(3, 46, len(rows))
    firm, day, *rest = columns
    firm[rows] = firm[src]
    day[rows] = np.minimum(day[src] + lag, plan.last_day)
    for col in rest:
        col[rows] = col[src]
    amount[rows] = -amount[src]


def _labels(names: Sequence[str], idx: np.ndarray) -> pa.Array:
    return pa.array(list(names), pa.string()).take(pa.array(idx.astype(np.int32)))


def write_ledger(path: str | Path, config: SimulationConfig, *,
                 chunk_rows: int | None = None) -> Path:
    """Stream ``config.ledger_rows`` ledger rows to Parquet with bounded memory.

    Rows are generated in blocks of :data:`BLOCK_ROWS` (each with its own random stream) and
    written ``chunk_rows`` at a time (rounded up to whole blocks) as Parquet row groups, so the
    content is the same for any chunk size and memory is O(chunk). Written atomically.
    """
    chunk = chunk_rows or config.ledger_chunk_rows
    blocks_per_chunk = max(1, -(-chunk // BLOCK_ROWS))
    plan = _ledger_plan(config)
    total = config.ledger_rows
    n_blocks = -(-total // BLOCK_ROWS)
    target = Path(path)
    with atomic_path(target) as tmp, pq.ParquetWriter(tmp, LEDGER_SCHEMA) as writer:
        for start in range(0, max(n_blocks, 1), blocks_per_chunk):
            tables = [_ledger_block(plan, config, b, min(BLOCK_ROWS, total - b * BLOCK_ROWS))
                      for b in range(start, min(start + blocks_per_chunk, n_blocks))]
            if tables:
                writer.write_table(pa.concat_tables(tables))
        if n_blocks == 0:
            writer.write_table(LEDGER_SCHEMA.empty_table())
    return target


def shadow_it_mask(ledger: pd.DataFrame) -> pd.Series:
    """True for rows that are shadow IT under the analysis rule (``helpers.spend.DEFAULT_RULE``),
    so the simulated truth and the measured feature use one definition."""
    from helpers.spend import DEFAULT_RULE

    return (ledger["vendor_category"].isin(DEFAULT_RULE.categories)
            & ~ledger["cost_center"].isin(DEFAULT_RULE.it_cost_centers)
            & ~ledger["payment_method"].isin(DEFAULT_RULE.sanctioned_payment_methods))


# --------------------------------------------------------------------------- documentation
README_TEMPLATE = """\
<!-- Generated by helpers.simulate.render_readme() from README_TEMPLATE in src/helpers/simulate.py.
     Do not edit by hand: change the template and run `python -m helpers.simulate`. -->
# ⚠️ SYNTHETIC DATA — not real respondents

**Every row in this folder was generated by `helpers.simulate` from random numbers.** No person,
firm, e-mail address or IP address here is real: names are invented, e-mails use the reserved
`.example` domain and IP addresses come from the documentation ranges 192.0.2.0/24,
198.51.100.0/24 and 203.0.113.0/24. Do not cite figures computed from these files as findings.
The data exist so that notebooks, helpers and tests run without confidential survey data, and so
that estimates can be checked against a known truth (`truth.yaml`).

Regenerate with
`python -m helpers simulate --out DIR --firms {firms} --ledger-rows {ledger_rows} --seed {seed} --waves {waves}`
(the same seed and sizes give the same data).

## Files

| File | Content |
|---|---|
| `survey.parquet` | one row per respondent: the codebook fields, then every codebook item in codebook order (float64; NaN where an item is not asked of the role) |
| `budgets.parquet` | one row per firm and year ({years}): revenue, IT, marketing and martech budgets in local currency, `synthetic` = True |
| `ledger.parquet` | {ledger_rows:,} purchase bookings: firm, booking date, cost centre, vendor, category, payment method, currency, amount (local currency) |
| `fx_rates.parquet` | monthly rates to EUR (first of the month) for EUR, DKK, CHF, GBP, SEK, NOK and USD |
| `vendors.csv` | vendor -> vendor_category; {unmapped} vendors that occur in the ledger are deliberately missing |
| `truth.yaml` | every parameter of the data-generating process, the seed, the sizes, the calibration targets, the injected quality problems and the true value of every headline estimand (`estimands`, checked by `benchmarks/validity.py`) |

## How the data were generated

**Firms and waves.** {firms} firms get a country ({countries}), an industry, a size band and a
revenue (lognormal around a median per size band, EUR). The survey language follows the country
(DE/AT/CH German, NL/BE Dutch, DK Danish, otherwise English). Wave w is fielded in year
{first_wave_year} + w - 1; in each of the {waves} waves a firm takes part with probability
{p_wave} (at least once). Per firm-wave the CMO answers with probability {p_cmo} and the CIO with
{p_cio} (at least one of them), so some firm-waves are incomplete dyads.

**Drivers** (firm-wave; both executives see the same reality): co-funded joint projects (yes with
probability {p_cofunded_projects}), shared bonus-relevant KPIs ({p_shared_kpis}), joint agile
teams ({p_joint_agile_teams}), and standardised (mean 0, SD 1) IT service orientation, data
ownership, sales involvement and data readiness. A binary driver carries over to the next wave
with probability {driver_keep}; continuous drivers correlate {driver_rho} from wave to wave.
Yes/no driver items report the fact correctly with probability {report_accuracy}; agree5 driver
items are mu + {driver_loading} x driver + noise (SD {driver_item_sd}), with the opposite sign
for reverse-keyed items.

**The disconnect D** (firm-wave, in Likert points of the disconnect index, population mean 0):

    D = {beta_cofunded_projects:+.2f} cofunded_projects {beta_shared_kpis:+.2f} shared_kpis {beta_joint_agile_teams:+.2f} joint_agile_teams
        {beta_it_service_orientation:+.2f} it_service_orientation {beta_data_ownership:+.2f} data_ownership {beta_sales_involvement:+.2f} sales_involvement
        {beta_data_readiness:+.2f} data_readiness (continuous drivers per SD)
        + size band, industry and country effects {wave_effect:+.2f} x (wave - 1)
        + firm effect (SD {firm_effect_sd}, shared across waves) + noise (SD {firm_wave_sd})

Each executive perceives D_r = D + noise (SD {perception_sd}).

**Indicator items** (constructs of kind `indicator`): latent answer = mu[item, role] + D_r
(signed so that the disconnect-oriented, reverse-keyed score rises one point per point of D_r)
+ a respondent x construct factor (SD {construct_sd}) + item noise (SD {item_sd}).
Shared-understanding (own view) items carry the executive's shared understanding
SU_r = base (SD {su_base_sd}) {su_on_disconnect:+.2f} x D + role noise (SD {su_role_sd}) plus the
rest of the perceived disconnect, so that they too move one point per point of D.

The *disconnect index* of a respondent is the mean, over the indicator items asked of the role,
of the reverse-keyed score, flipped (min + max - score) for `higher_is_better` constructs: 1-5,
higher = more disconnect. Regressed on the latent drivers (`simulate_survey(...,
discrete=False)`) it recovers the effects above exactly in expectation; with rounded answers
the estimates are attenuated a little but keep their signs.

**Calibration.** mu[item, role] is solved exactly (a normal mixture over the discrete part of D)
so that the expected share of top-box answers (4-5 on agree5), straight-liners included, equals
the published figure the codebook links to the item (`benchmark:`, values read from
`data/reference/published_figures.csv`), e.g. imp_1 CIO 77 % / CMO 57 %, collab_1 10 % for both
roles, ready_1 CMO 71 % (agreement with the reverse-keyed item itself). Other roles and items
use assumed targets listed in `truth.yaml` (`calibration`, source `assumed`). Answers are then
rounded and clipped to the scale.

**Outcomes.** Joint project success is a firm-wave latent (its items add noise, SD
{outcome_item_sd}):

    success = {success_intercept} {success_b_cmo:+.2f} X {success_b_cio:+.2f} Y {success_gap:+.2f} (X - Y)^2 {success_on_disconnect:+.2f} D + noise (SD {success_sd})

with X the CMO's and Y the CIO's shared-understanding latent (centred): b1 = {success_b_cmo},
b2 = {success_b_cio}, b3 = b5 = {success_gap}, b4 = {b4}, and the response surface a1 = {a1},
a2 = {a2}, a3 = {a3}, a4 = {a4} (holding D constant). A failed or late joint project happens with
logit P = {failure_intercept} {failure_on_disconnect:+.2f} D and is reported like the drivers.
Customer insight = {insight_intercept} {insight_on_disconnect:+.2f} D
{insight_on_readiness:+.2f} data_readiness + noise. "Relationship improved" is calibrated to its
benchmark and shifts by {improved_on_disconnect:+.2f} x D_r.

**Quality problems to detect.** Completion times are lognormal (median
{duration_median:.0f} s, never below 0.4 x the median) except for about {speeder_pct:.0f} %
speeders (below a third of the median). About {straight_pct:.0f} % of respondents straight-line
(one and the same answer to every agree5 item). About {comment_pct:.0f} % leave a comment, some
mentioning their own name. `truth.yaml` (`quality`) lists the respondent ids.

**Budgets.** Marketing budget / revenue follows Gartner's CMO Spend Survey figure for the year
(nearest published year); IT budget / revenue runs linearly from {it_first:.1f} % to
{it_last:.1f} %; marketing's share of technology spend, martech / (martech + IT), rises from
{tech_first:.0f} % by {tech_drift:.1f} points a year. The martech share of the marketing budget
is derived from these and stays within Gartner's published 22-29 % range; it does not follow
Gartner's nearest-year martech figures, which together with the falling marketing budgets would
make marketing's share of technology spend fall. Firms differ by lognormal factors with mean 1.
Amounts are in local currency (EUR, DKK, CHF, GBP, SEK, NOK) at the year's average rate.

**Ledger and shadow IT.** Rows are spread over firms in proportion to the square root of revenue
and evenly over the years; {tech_pct:.0f} % are technology purchases (software, cloud
infrastructure, hardware, IT services). *Shadow IT* is software or cloud infrastructure bought by
a cost centre other than IT on a corporate card or an expense claim, i.e. outside IT purchasing.
The firm-year shadow-IT share of technology spend is
clip({shadow_intercept} {shadow_on_disconnect:+.2f} x D + noise (SD {shadow_sd}), {shadow_min}, {shadow_max}),
where D is the firm's disconnect in the wave of that year (wave w = year {first_wave_year} + w -
1; earlier years use wave 1): the disconnect raises shadow-IT spend. About {refund_pct:.0f} % of
the rows are refunds: the negative amount of a purchase in the ledger (same firm, vendor, cost
centre and payment method), booked 3-45 days later. Amounts are converted to local currency at
the month's rate in `fx_rates.parquet`.
"""


def render_readme(config: SimulationConfig | None = None) -> str:
    """The README text for a sample generated with ``config`` (default: the project sample)."""
    c = config or SimulationConfig()
    values = {k: v for k, v in asdict(c).items() if not isinstance(v, tuple)}
    values.update(
        years=f"{c.years[0]}-{c.years[-1]}", unmapped=len(UNMAPPED_VENDORS),
        countries=", ".join(f"{k} {100 * w:.0f} %" for k, w in c.country_weights),
        b4=-2 * c.success_gap, a1=c.success_b_cmo + c.success_b_cio, a2=0.0,
        a3=c.success_b_cmo - c.success_b_cio, a4=4 * c.success_gap,
        speeder_pct=100 * c.speeder_share, straight_pct=100 * c.straightliner_share,
        comment_pct=100 * c.comment_share, it_first=100 * c.it_pct_first,
        it_last=100 * c.it_pct_last, tech_first=100 * c.tech_share_first,
        tech_drift=100 * c.tech_share_drift, tech_pct=100 * c.ledger_tech_share,
        refund_pct=100 * c.refund_share)
    return README_TEMPLATE.format(**values)


def write_sample_doc(path: str | Path | None = None) -> Path:
    """Write ``data/SAMPLE_DATA.md``: the README of the default project sample."""
    target = Path(path) if path is not None else paths.DATA / "SAMPLE_DATA.md"
    write_text(target, render_readme())
    return target


# --------------------------------------------------------------------------- truth.yaml
def _plain(value: Any) -> Any:
    """Numpy scalars and tuples to plain YAML-able Python values (floats rounded)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_plain(v) for v in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return None if np.isnan(value) else round(float(value), 6)
    return value


def truth_document(config: SimulationConfig, *, codebook: Codebook | None = None,
                   survey: pd.DataFrame | None = None) -> dict[str, Any]:
    """Everything needed to check estimates against the truth, as a plain mapping."""
    cb = codebook or load_codebook()
    c = config
    calib = calibration_table(c, cb)
    _, _, var_d, mean_d = _disconnect_mixture(c, cb)
    doc: dict[str, Any] = {
        "notice": "SYNTHETIC DATA - not real respondents. Generated by helpers.simulate.",
        "seed": c.seed,
        "sizes": {"firms": c.firms, "waves": c.waves, "ledger_rows": c.ledger_rows,
                  "years": list(c.years)},
        "wave_years": {w: c.wave_year(w) for w in range(1, c.waves + 1)},
        "config": {k: dict(v) if isinstance(v, tuple) else v for k, v in asdict(c).items()},
        "disconnect": {
            "units": "Likert points of the disconnect index per unit of the driver "
                     "(binary: yes vs no; continuous: per SD)",
            "betas": c.betas,
            "controls": {"size_band": dict(c.size_effects), "industry": dict(c.industry_effects),
                         "country": dict(c.country_effects), "per_wave_after_first": c.wave_effect},
            "centring_constant": mean_d,
            "variance_of_normal_part": var_d,
            "index_definition": (
                "mean over the indicator items asked of the role of the reverse-keyed score, "
                "flipped (min + max - score) for higher_is_better constructs"),
        },
        "shared_understanding": {"equation": "SU_r = base + su_on_disconnect * D + role noise",
                                 "su_on_disconnect": c.su_on_disconnect},
        "outcomes": _outcome_truth(c),
        "calibration": _plain(calib.to_dict(orient="records")),
        "benchmark_targets": _plain(benchmark_targets(cb).to_dict(orient="records")),
        "budgets": _plain(budget_paths(c).to_dict(orient="records")),
        "ledger": {
            "shadow_it_rule": SHADOW_IT_RULE,
            "shadow_it_share": "clip(shadow_intercept + shadow_on_disconnect * D + "
                               "N(0, shadow_sd), shadow_min, shadow_max)",
            "shadow_on_disconnect": c.shadow_on_disconnect,
            "year_to_wave": {y: c.wave_of_year(y) for y in c.years},
            "row_weights": "proportional to sqrt(revenue_eur)",
            "unmapped_vendors": list(UNMAPPED_VENDORS),
            "bad_rows": c.bad_rows,
        },
    }
    if survey is not None:
        doc["quality"] = _quality(survey, cb)
    # the true value of every headline estimand (helpers.truth derives them from this module's
    # settings, so it is imported here rather than at the top: it imports this module)
    from helpers import truth
    doc["estimands"] = truth.estimands(c, cb)
    return _plain(doc)


def _outcome_truth(c: SimulationConfig) -> dict[str, Any]:
    b = {"b0": c.success_intercept, "b1": c.success_b_cmo, "b2": c.success_b_cio,
         "b3": c.success_gap, "b4": -2 * c.success_gap, "b5": c.success_gap}
    return {
        "joint_project_success": {
            "equation": "b0 + b1 X + b2 Y + b3 X^2 + b4 X Y + b5 Y^2 + c D + noise; X = su_cmo, "
                        "Y = su_cio (latent, centred)",
            **b, "c_disconnect": c.success_on_disconnect,
            "a1": b["b1"] + b["b2"], "a2": b["b3"] + b["b4"] + b["b5"], "a3": b["b1"] - b["b2"],
            "a4": b["b3"] - b["b4"] + b["b5"]},
        "project_failure": {"logit": f"{c.failure_intercept} + {c.failure_on_disconnect} D",
                            "reported_correctly": c.report_accuracy},
        "customer_insight": {"intercept": c.insight_intercept,
                             "disconnect": c.insight_on_disconnect,
                             "data_readiness": c.insight_on_readiness},
        "relationship_improved": {"perceived_disconnect": c.improved_on_disconnect},
    }


def _quality(survey: pd.DataFrame, cb: Codebook) -> dict[str, Any]:
    """The injected speeders and straight-liners (identified by their defining rules)."""
    duration = survey["duration_seconds"]
    likert = [i.id for i in cb.items.values() if i.scale.type == "likert"]
    flat = survey[likert].nunique(axis=1) == 1
    return {"speeders": survey.loc[duration < duration.median() / 3, "respondent_id"].tolist(),
            "straightliners": survey.loc[flat, "respondent_id"].tolist()}


# --------------------------------------------------------------------------- the sample
def write_sample(out_dir: str | Path, *, firms: int = SimulationConfig.firms,
                 ledger_rows: int = SimulationConfig.ledger_rows,
                 seed: int = SimulationConfig.seed,
                 waves: int = SimulationConfig.waves,
                 config: SimulationConfig | None = None) -> dict[str, Path]:
    """Write the synthetic sample into ``out_dir`` (each file atomically); return name -> path.

    ``config`` (every setting, as the validity study passes it) replaces the four keywords.
    """
    if config is None:
        config = SimulationConfig(firms=firms, ledger_rows=ledger_rows, seed=seed, waves=waves)
    cb = load_codebook()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = {name: out / file for name, file in (
        ("survey", "survey.parquet"), ("budgets", "budgets.parquet"),
        ("ledger", "ledger.parquet"), ("fx_rates", "fx_rates.parquet"),
        ("vendors", "vendors.csv"), ("truth", "truth.yaml"), ("readme", "README.md"))}
    survey, _ = simulate_survey(config, codebook=cb)
    write_parquet(survey, written["survey"])
    write_parquet(simulate_budgets(config, codebook=cb), written["budgets"])
    write_ledger(written["ledger"], config)
    fx = pa.Table.from_pandas(fx_rates(config), schema=FX_SCHEMA, preserve_index=False)
    with atomic_path(written["fx_rates"]) as tmp:
        pq.write_table(fx, tmp)
    write_text(written["vendors"], vendors_table().to_csv(index=False))
    truth = truth_document(config, codebook=cb, survey=survey)
    write_text(written["truth"], yaml.safe_dump(truth, sort_keys=False, allow_unicode=True,
                                                width=100))
    write_text(written["readme"], render_readme(config))
    return written


if __name__ == "__main__":  # python -m helpers.simulate: refresh data/SAMPLE_DATA.md
    print(f"wrote {write_sample_doc()}")
