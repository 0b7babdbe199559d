"""Privacy: disclosure control by design, small-cell suppression and keyed pseudonyms.

Respondents are senior executives who were promised confidentiality; in a small country-by-industry
cell a count of 1 or 2 can identify a person. No published number, alone or combined with others,
may describe fewer than ``min_cell`` CMOs, CIOs, firms, pairs or firm-years:

- :func:`partitions`: the published segments, one partition per dimension whose parts hold none
  or at least ``min_cell`` of every unit (small categories pooled into "Other (…)"), audited
  across any two dimensions (:func:`audit`), so differencing published segments yields only
  published segments;
- :func:`secondary_suppression`: count tables computed for the whole sample and every part,
  withheld together so that no total gives a cell back (:class:`CountCube`);
- :func:`pool_rare`: model terms of at least ``min_cell`` rows and firms;
- :func:`suppress_counts` / :func:`suppress_small_groups`: ``<min_cell`` in single tables.

The README's privacy section states the rule and why it holds.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from helpers.i18n import N_, _, integer, ngettext

DEFAULT_MIN_CELL = 5
OTHER = "Other"
NOT_STATED = "not stated"


def suppress_counts(table: pd.DataFrame, min_cell: int = DEFAULT_MIN_CELL,
                    columns: list[str] | None = None) -> tuple[pd.DataFrame, int]:
    """Replace counts in ``1..min_cell-1`` by ``"<min_cell"``; returns (table, cells suppressed).

    Zero stays zero (an empty cell reveals nobody). Only ``columns`` (default: all numeric) change.
    """
    out = table.copy()
    cols = columns or [c for c in out.columns if pd.api.types.is_numeric_dtype(out[c])]
    suppressed = 0
    for col in cols:
        small = out[col].notna() & (out[col] > 0) & (out[col] < min_cell)
        suppressed += int(small.sum())
        out[col] = out[col].astype(object).where(~small, f"<{min_cell}")
    return out, suppressed


def mask_small(table: pd.DataFrame, min_cell: int = DEFAULT_MIN_CELL) -> pd.DataFrame:
    """Numeric counts with cells in ``1..min_cell-1`` set to NaN (for plots: no bar is drawn)."""
    return table.mask((table > 0) & (table < min_cell))


def suppression_note(n: int, min_cell: int = DEFAULT_MIN_CELL, rows: bool = False) -> str:
    """The note printed under a table in which ``n`` cells (or rows) were suppressed, in the
    report's language."""
    if n == 0:
        return ""

    if rows:
        text = ngettext("{n} row with fewer than {min_cell} respondents is suppressed (counts "
                        "shown as <{min_cell}, values left blank).",
                        "{n} rows with fewer than {min_cell} respondents are suppressed (counts "
                        "shown as <{min_cell}, values left blank).", n)
    else:
        text = ngettext("{n} cell with fewer than {min_cell} respondents is suppressed (counts "
                        "shown as <{min_cell}, values left blank).",
                        "{n} cells with fewer than {min_cell} respondents are suppressed (counts "
                        "shown as <{min_cell}, values left blank).", n)
    return text.format(n=integer(n), min_cell=min_cell)


# --------------------------------------------------------------------------- pseudonyms
KEY_ENV = "DISCONNECT_LAB_KEY_FILE"


def key_file() -> Path:
    """Where the local pseudonymisation key lives (``.secrets/pseudonym.key``; never committed)."""
    from helpers import paths

    return Path(os.environ.get(KEY_ENV) or paths.ROOT / ".secrets" / "pseudonym.key")


def pseudonym_key() -> bytes:
    """The local secret key, generated (32 random bytes, owner-only permissions) on first use."""
    path = key_file()
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(secrets.token_bytes(32))
    return path.read_bytes()


def key_fingerprint() -> str:
    """A public fingerprint of the key (so processed data is rebuilt when the key changes)."""
    return hashlib.sha256(b"fingerprint:" + pseudonym_key()).hexdigest()[:16]


def pseudonymise(values: pd.Series, prefix: str) -> pd.Series:
    """Keyed-hash pseudonyms (HMAC-SHA256, 12 hex digits) for respondent or firm ids.

    The same id always gets the same pseudonym with the same key, so tables still join; without
    the key the original id cannot be recovered or confirmed by guessing.
    """
    key = pseudonym_key()

    def one(v: object) -> object:
        if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA:
            return pd.NA
        digest = hmac.new(key, str(v).strip().encode("utf-8"), hashlib.sha256).hexdigest()
        return f"{prefix}-{digest[:12]}"

    mapping = {v: one(v) for v in pd.unique(values.dropna())}
    return values.map(mapping).astype("string")


# --------------------------------------------------------------------------- small groups
def suppress_small_groups(table: pd.DataFrame, n_columns: list[str], value_columns: list[str],
                          min_cell: int = DEFAULT_MIN_CELL) -> pd.DataFrame:
    """Blank ``value_columns`` in rows where any of ``n_columns`` is below ``min_cell``.

    The count of suppressed rows is kept in ``attrs["suppressed"]`` so that
    :func:`helpers.tables.show` prints the note; counts themselves are shown as ``<min_cell``.
    """
    out = table.copy()
    small = pd.Series(False, index=out.index)
    for col in n_columns:
        n = pd.to_numeric(out[col], errors="coerce")
        small |= n.notna() & (n > 0) & (n < min_cell)  # an empty group reveals nobody
    for col in value_columns:
        out[col] = out[col].astype(object).where(~small, np.nan)
    for col in n_columns:
        n = pd.to_numeric(out[col], errors="coerce")
        out[col] = out[col].astype(object).where(~(n.notna() & (n > 0) & (n < min_cell)),
                                                 f"<{min_cell}")
    out.attrs["suppressed"] = int(small.sum())
    out.attrs["min_cell"] = min_cell
    return out


def withhold_nested_rows(table: pd.DataFrame, key: str, n_columns: list[str],
                         value_columns: list[str], min_cell: int = DEFAULT_MIN_CELL,
                         note: str = "note") -> pd.DataFrame:
    """Blank the larger of two nested groups' rows when they differ by 1 to ``min_cell`` − 1.

    Two rows with the same ``key`` (e.g. one indicator compared over complete pairs and over
    all respondents) describe nested groups when every count of one is at least that of the
    other; if any count differs by 1 to ``min_cell`` − 1, ``n·mean`` of the larger minus that of
    the smaller is the sum over those few respondents. The larger group's ``value_columns`` are
    blanked (its counts stay: they describe who answered, not what) and ``note`` says why;
    ``attrs["withheld"]`` counts the rows. Apply before :func:`suppress_small_groups`.
    """
    out = table.copy()
    counts = out[n_columns].apply(pd.to_numeric, errors="coerce")
    withheld = pd.Series(False, index=out.index)
    for _key, rows in out.groupby(key, sort=False).groups.items():
        idx = list(rows)
        for small in idx:
            for large in idx:
                if small == large:
                    continue
                a, b = counts.loc[small], counts.loc[large]
                if a.isna().any() or b.isna().any() or not (b >= a).all():
                    continue
                diff = b - a
                if ((diff > 0) & (diff < min_cell)).any():
                    withheld[large] = True
    for col in value_columns:
        out[col] = out[col].astype(object).where(~withheld, np.nan)
    if note in out.columns:
        out[note] = out[note].astype(object).where(
            ~withheld, _("withheld: its groups differ from another row's by fewer than "
                         "{min_cell} respondents, whose answers the two rows would reveal")
            .format(min_cell=min_cell))
    out.attrs["withheld"] = int(withheld.sum())
    return out


def pool_rare(data: pd.DataFrame, columns: list[str], min_cell: int = DEFAULT_MIN_CELL,
              label: str = OTHER, firm: str = "firm_id") -> pd.DataFrame:
    """Merge rare categories into one ``label`` category that itself meets the minimum, so no
    model term describes fewer than ``min_cell`` rows (respondents or firm-waves) or firms.

    A category is rare when it has fewer than ``min_cell`` rows or (when ``firm`` is a column)
    fewer than ``min_cell`` distinct firms. The pooled category must meet both minimums too:
    while it does not, the smallest remaining category joins it (so "Other" never holds one
    firm of four respondents). When nothing can make it meet them, every category is pooled and
    the column is constant (a model drops it). Missing values stay missing.
    ``attrs["pooled"]`` maps each column to the categories merged.
    """
    out = data.copy()
    pooled: dict[str, list[Any]] = {}
    for col in columns:
        if col not in out.columns:
            continue
        values = out[col].astype("object")
        present = values.dropna()
        if present.empty:
            continue
        n_rows = present.groupby(present).size()
        n_firms = (out.loc[present.index, firm].groupby(present).nunique()
                   if firm in out.columns else n_rows)
        size = pd.DataFrame({"rows": n_rows, "firms": n_firms})
        rare = [v for v in size.index if not _meets(size.loc[v], min_cell)]
        if not rare:
            continue
        kept = [v for v in size.sort_values(["firms", "rows"], kind="stable").index
                if v not in rare]
        members = list(rare)
        while kept and not _meets(_pooled_size(out, values, members, firm), min_cell):
            members.append(kept.pop(0))  # the next-smallest category joins "Other"
        if not kept:  # nothing meets the minimum on its own beside "Other": one category
            members = list(size.index)
        out[col] = values.where(~values.isin(members), label)
        pooled[col] = members
    out.attrs = {**data.attrs, "pooled": pooled}
    return out


def _meets(size: pd.Series, min_cell: int) -> bool:
    return bool((size >= min_cell).all())


def _pooled_size(data: pd.DataFrame, values: pd.Series, members: list[Any],
                 firm: str) -> pd.Series:
    mask = values.isin(members)
    firms = data.loc[mask, firm].nunique() if firm in data.columns else int(mask.sum())
    return pd.Series({"rows": int(mask.sum()), "firms": int(firms)})


class TooFewResponses(Exception):
    """Raised by a report whose segment is too small to show any numbers."""


def check_segment(survey: pd.DataFrame, min_cell: int = DEFAULT_MIN_CELL,
                  per_role: bool = True) -> None:
    """Stop a report (``TooFewResponses``) when a role has fewer than ``min_cell`` respondents.

    Every report compares or describes CMOs and CIOs, so a segment where either role is smaller
    than the minimum cell size cannot be shown without describing a small group.
    """
    roles = survey["role"].astype(str).value_counts() if "role" in survey else pd.Series()
    groups = {r: int(roles.get(r, 0)) for r in ("CMO", "CIO")} if per_role else \
        {"respondents": len(survey)}
    small = {g: n for g, n in groups.items() if n < min_cell}
    if small:
        text = {
            ("CMO",): N_("too few responses to report this segment: fewer than {min_cell} CMOs "
                         "(minimum cell size)."),
            ("CIO",): N_("too few responses to report this segment: fewer than {min_cell} CIOs "
                         "(minimum cell size)."),
            ("CMO", "CIO"): N_("too few responses to report this segment: fewer than {min_cell} "
                               "CMOs and CIOs (minimum cell size)."),
            ("respondents",): N_("too few responses to report this segment: fewer than "
                                 "{min_cell} respondents (minimum cell size)."),
        }[tuple(small)]
        raise TooFewResponses(_(text).format(min_cell=min_cell))


def check_count(n: int, minimum: int, what: str) -> None:
    """Stop a report (``TooFewResponses``) when an analysis unit count is below ``minimum``."""
    if n < minimum:
        text = (_("too few {what} to report this segment: none (at least {minimum} needed).")
                if n == 0 else
                _("too few {what} to report this segment: fewer than {minimum} (at least "
                  "{minimum} needed)."))
        raise TooFewResponses(text.format(what=_(what), minimum=minimum))


# --------------------------------------------------------------------------- published segments
#: the segment dimensions a batch grid may run over; their partitions are audited together
DIMENSIONS = ("country", "industry", "size_band", "wave")
#: analysis units: a published group must hold none or at least ``min_cell`` of each
UNIT_NAMES = {"CMO": "CMOs", "CIO": "CIOs", "firms": "firms",
              "pairs": "complete CMO–CIO pairs (firm-waves with both executives)",
              "budgets": "firm-years with budgets", "ledger": "firm-years with ledger spend"}
DEFAULT_UNITS = ("CMO", "CIO", "firms", "pairs", "firm_years")
#: units of the cross-dimension audit (additive over the rows of a segment)
AUDIT_UNITS = ("CMO", "CIO", "pairs", "firms")


@dataclass(frozen=True)
class Part:
    """One published group of a segment dimension: a category, or the pooled "Other" part.

    ``values`` are the category values it covers (``None`` = the value is missing, "not
    stated"); ``pooled`` marks the part that merges categories too small on their own.
    """

    column: str
    values: tuple[Any, ...]
    pooled: bool = False

    @property
    def label(self) -> str:
        """``DE`` or ``Other (BE, DK, SE)``: how tables and reports name the part."""
        names = ", ".join(value_label(v) for v in self.values)
        return f"{OTHER} ({names})" if self.pooled else names

    @property
    def key(self) -> str:
        """The part in a report name: the value itself, ``other`` or ``not-stated``."""
        if self.pooled:
            return "other"
        return "not-stated" if self.values[0] is None else str(self.values[0])

    @property
    def segment(self) -> dict[str, Any]:
        """The report parameter ``segment`` that selects this part."""
        if self.pooled:
            return {self.column: [plain_value(v) for v in self.values]}
        return {self.column: plain_value(self.values[0])}

    def mask(self, frame: pd.DataFrame) -> pd.Series:
        """Rows of ``frame`` in this part."""
        return values_mask(frame[self.column], self.values)


def plain_value(value: Any) -> Any:
    """A category value as a JSON/YAML literal (numpy integers become ``int``)."""
    if value is None:
        return None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return int(value) if float(value).is_integer() else float(value)
    return value


def value_label(value: Any) -> str:
    """A category value in text (``None`` is "not stated")."""
    return NOT_STATED if value is None else str(plain_value(value))


def values_mask(series: pd.Series, values: Any) -> pd.Series:
    """Rows whose value is one of ``values`` (compared as text, as report segments are; ``None``
    matches a missing value)."""
    values = list(values) if isinstance(values, list | tuple | set) else [values]
    text = [str(plain_value(v)) for v in values if v is not None]
    mask = series.astype("string").isin(text).fillna(False).astype(bool)
    if any(v is None for v in values):
        mask |= series.isna().to_numpy()
    return mask


@dataclass
class Partition:
    """The published parts of one segment dimension (see :func:`partition`)."""

    column: str
    parts: list[Part]
    min_cell: int
    units: dict[str, int] = field(default_factory=dict)  # whole-sample counts of the units used
    note: str = ""

    @property
    def published(self) -> bool:
        """True when the dimension has a segment grid: at least two parts."""
        return len(self.parts) >= 2

    @property
    def pooled(self) -> Part | None:
        return next((p for p in self.parts if p.pooled), None)

    def part_of(self, value: Any) -> Part | None:
        """The part holding a category value (None when the value is not in the data)."""
        key = str(plain_value(value)) if value is not None else None
        for part in self.parts:
            if any((v is None and key is None) or (v is not None and str(plain_value(v)) == key)
                   for v in part.values):
                return part
        return None

    def parts_for(self, values: Any) -> list[Part] | None:
        """The parts whose union is exactly ``values`` (a value or a list), or None; ``[]``
        when no value is in the data (the segment selects nobody)."""
        values = list(values) if isinstance(values, list | tuple | set) else [values]
        parts = []
        for v in values:
            part = self.part_of(v)
            if part is None:
                continue  # a value absent from the data selects nobody
            if part not in parts:
                parts.append(part)
        wanted = {str(plain_value(v)) if v is not None else None for v in values}
        covered = {str(plain_value(v)) if v is not None else None
                   for p in parts for v in p.values}
        return parts if covered <= wanted else None

    def assign(self, series: pd.Series) -> pd.Series:
        """The part label of each value of ``series`` (NaN outside every part)."""
        out = pd.Series(np.nan, index=series.index, dtype=object)
        for part in self.parts:
            out[part.mask(series.to_frame(self.column)).to_numpy()] = part.label
        return out


# ------------------------------------------------------------------ units of a group of rows
def _category_values(series: pd.Series) -> list[Any]:
    """The values of a column in their natural order (categorical order, else sorted), with
    ``None`` last when some are missing."""
    present = series.dropna()
    if isinstance(series.dtype, pd.CategoricalDtype):
        used = set(present.astype(str))
        values = [c for c in series.cat.categories if str(c) in used]
    else:
        uniq = pd.unique(present)
        try:
            values = sorted(uniq)
        except TypeError:
            values = sorted(uniq, key=str)
    values = [plain_value(v) for v in values]
    return values + ([None] if series.isna().any() else [])


def firm_year_values(survey: pd.DataFrame, table: pd.DataFrame, column: str) -> pd.Series:
    """The value of ``column`` each firm-year row of ``table`` (budgets or spend features) takes.

    A firm-year belongs to the segment of the firm's answer for that (fiscal) year — the
    firm-wave whose ``year`` matches — so that every firm-year lies in exactly one part of a
    dimension and segments add up to the whole sample. A year no wave refers to takes the value
    of the firm's wave nearest in time (the later one on a tie; the latest wave when the survey
    records no years). For ``wave`` itself only a matching year counts: other years belong to no
    wave (NaN). Firms not in the survey get NaN.
    """
    fw = pd.DataFrame({
        "firm_id": survey["firm_id"].astype(str).to_numpy(),
        "_wave": pd.to_numeric(survey["wave"], errors="coerce").to_numpy(dtype=float)
        if "wave" in survey else np.zeros(len(survey)),
        "_wyear": pd.to_numeric(survey["year"], errors="coerce").to_numpy(dtype=float)
        if "year" in survey else np.full(len(survey), np.nan),
        "_value": survey[column].astype(object).where(survey[column].notna(), None).to_numpy(),
    })
    fw = fw.sort_values(["firm_id", "_wave"], kind="stable").drop_duplicates(
        ["firm_id", "_wave"], keep="first")
    rows = pd.DataFrame({"firm_id": table["firm_id"].astype(str).to_numpy(),
                         "_year": pd.to_numeric(table["year"], errors="coerce")
                         .to_numpy(dtype=float), "_row": np.arange(len(table))})
    both = rows.merge(fw, on="firm_id", how="inner")
    both = both[both["_year"].notna()]
    both["_same"] = both["_wyear"] == both["_year"]
    if column == "wave":
        both = both[both["_same"]]
    # the matching year first, then the nearest year (the later on a tie), then the latest wave
    both["_dist"] = (both["_wyear"] - both["_year"]).abs().fillna(np.inf)
    both = both.sort_values(["_row", "_same", "_dist", "_wyear", "_wave"],
                            ascending=[True, False, True, False, False], kind="stable")
    first = both.drop_duplicates("_row", keep="first").set_index("_row")["_value"]
    out = pd.Series([np.nan] * len(table), index=range(len(table)), dtype=object)
    out[first.index] = [plain_value(v) if v is not None else np.nan for v in first]
    out.index = table.index
    return out


class Units:
    """Counts of every analysis unit in a group of survey rows (and the firm-years it covers).

    ``spend`` maps ``"budgets"``/``"ledger"`` to firm-year tables (None or missing = not built).
    Units whose whole-sample count is zero (no pairs, no ledger) are no minimum.
    """

    def __init__(self, survey: pd.DataFrame, spend: Mapping[str, pd.DataFrame | None] | None = None,
                 units: Sequence[str] = DEFAULT_UNITS) -> None:
        self.survey = survey
        self.role = survey["role"].astype(str).to_numpy() if "role" in survey else \
            np.full(len(survey), "", dtype=object)
        self.firm = survey["firm_id"].astype(str).to_numpy()
        wave = survey["wave"].astype("string").fillna("") if "wave" in survey else \
            pd.Series("", index=survey.index)
        self.firm_wave = (survey["firm_id"].astype(str) + "\x1f" + wave).to_numpy()
        names = [u for u in units if u != "firm_years"]
        self.spend: dict[str, pd.DataFrame] = {}
        if "firm_years" in units:
            firms = set(self.firm)
            for name, table in (spend or {}).items():
                if table is not None and not table.empty:
                    own = table[table["firm_id"].astype(str).isin(firms)]
                    if not own.empty:
                        self.spend[name] = own
                        names.append(name)
        self._assigned: dict[tuple[str, str], np.ndarray] = {}
        self._spend_firms = {n: tb["firm_id"].astype(str).to_numpy() for n, tb in self.spend.items()}
        whole = self.count(np.ones(len(survey), dtype=bool))
        self.names = [u for u in names if whole.get(u, 0) > 0]
        self.whole = {u: whole[u] for u in self.names}

    def assigned(self, name: str, column: str) -> np.ndarray:
        """:func:`firm_year_values` of spend table ``name`` for ``column`` as text keys (None:
        in no category), cached."""
        if (name, column) not in self._assigned:
            values = firm_year_values(self.survey, self.spend[name], column)
            self._assigned[(name, column)] = np.array(
                [None if pd.isna(v) else str(plain_value(v)) for v in values], dtype=object)
        return self._assigned[(name, column)]

    def count(self, mask: np.ndarray, column: str | None = None,
              values: Sequence[Any] = ()) -> dict[str, int]:
        """Units in the rows ``mask``; firm-years of ``column`` taking one of ``values`` (all
        firm-years of the rows' firms when ``column`` is None)."""
        mask = np.asarray(mask, dtype=bool)
        role = self.role[mask]
        fw_cmo = set(self.firm_wave[mask][role == "CMO"])
        fw_cio = set(self.firm_wave[mask][role == "CIO"])
        firms = set(self.firm[mask])
        out = {"CMO": int((role == "CMO").sum()), "CIO": int((role == "CIO").sum()),
               "firms": len(firms), "pairs": len(fw_cmo & fw_cio)}
        for name in self.spend:
            if column is None:
                out[name] = int(np.isin(self._spend_firms[name], list(firms)).sum())
            else:
                keys = self.assigned(name, column)
                wanted = {str(plain_value(v)) for v in values if v is not None}
                hit = np.array([k in wanted if k is not None else None in values
                                for k in keys], dtype=bool)
                out[name] = int(hit.sum())
        return out

    def of(self, column: str, values: Sequence[Any]) -> dict[str, int]:
        """Units of the rows whose ``column`` takes one of ``values``."""
        mask = values_mask(self.survey[column], values).to_numpy()
        return self.count(mask, column, values)

    def short(self, counts: Mapping[str, int], min_cell: int) -> list[str]:
        """The units of ``counts`` between 1 and ``min_cell`` − 1 (zero reveals nobody)."""
        return [u for u in self.names if 0 < counts.get(u, 0) < min_cell]


def partition(survey: pd.DataFrame, column: str, min_cell: int = DEFAULT_MIN_CELL, *,
              units: Sequence[str] = DEFAULT_UNITS,
              spend: Mapping[str, pd.DataFrame | None] | None = None,
              counter: Units | None = None) -> Partition:
    """The published parts of one segment dimension.

    A category of ``column`` is published as it is when it holds none or at least ``min_cell``
    of every analysis unit: CMOs, CIOs, firms, complete CMO–CIO pairs and the firm-years with
    budgets or ledger spend (units the data does not have at all are no minimum). The other
    categories are pooled into one "Other" part; while Other misses a minimum, the next-smallest
    published category joins it. When nothing can make it meet every minimum, all categories
    form one part: the dimension has no segment grid (``Partition.published`` is False).
    A missing value is a category of its own ("not stated"), so the parts always add up to the
    whole sample and ``whole − parts`` is nothing.
    """
    units_ = counter or Units(survey, spend, units)
    if column not in survey.columns:
        raise KeyError(f"segment column {column!r} is not in the survey")
    values = _category_values(survey[column])
    counts = {v: units_.of(column, [v]) for v in values}
    ok = [v for v in values if not units_.short(counts[v], min_cell)]
    small = [v for v in values if v not in ok]
    note = ""
    if small:
        order = sorted(ok, key=lambda v: (sum(counts[v][u] for u in ("CMO", "CIO")),
                                          counts[v]["firms"], values.index(v)))
        pooled = list(small)
        while units_.short(units_.of(column, pooled), min_cell) and order:
            pooled.append(order.pop(0))
        if units_.short(units_.of(column, pooled), min_cell) or not order:
            pooled = list(values)
        ok = [v for v in values if v not in pooled]
        parts = [Part(column, (v,)) for v in ok]
        if ok:
            parts.append(Part(column, tuple(v for v in values if v in pooled), pooled=True))
        else:
            parts = [Part(column, tuple(values), pooled=len(values) > 1)]
        names = ", ".join(value_label(v) for v in small)
        note = (f"{names}: fewer than {min_cell} of some unit, pooled into {OTHER}"
                if ok else f"no category of {column} holds at least {min_cell} of every unit "
                           "beside the others: no segment grid")
    else:
        parts = [Part(column, (v,)) for v in values]
    return Partition(column, parts, min_cell, dict(units_.whole), note)


# ------------------------------------------------------------------ the cross-dimension audit
@dataclass
class Violation:
    """A combination of published groups that describes fewer than ``min_cell`` units."""

    unit: str
    weight: int
    columns: tuple[str, ...]
    sides: tuple[tuple[int, ...], ...]  # per column: the part indices on one side of the cut

    def describe(self, parts: Mapping[str, Partition]) -> str:
        what = []
        for column, side in zip(self.columns, self.sides, strict=True):
            labels = [parts[column].parts[i].label if i < len(parts[column].parts)
                      else NOT_STATED for i in side]
            what.append(f"{column} {', '.join(labels) or '(none)'}")
        return (f"{'; '.join(what)}: differencing these groups and the whole sample leaves "
                f"{self.weight} {UNIT_NAMES.get(self.unit, self.unit)}")


def part_codes(values: pd.Series, partition: Partition) -> np.ndarray:
    """The index of each value's part in ``partition`` (−1: in no part)."""
    labels = partition.assign(values.rename(partition.column))
    codes = {p.label: i for i, p in enumerate(partition.parts)}
    return labels.map(codes).fillna(-1).astype(int).to_numpy()


def audit_units(survey: pd.DataFrame, parts: Mapping[str, Partition],
                units: Sequence[str] = AUDIT_UNITS) -> dict[str, pd.DataFrame]:
    """The units of the audit with the index of their part in each published dimension.

    CMOs and CIOs are survey rows; pairs are firm-waves with both executives, firms are
    firm-waves with any (counted as distinct firms). A unit whose rows fall in different parts
    (a firm-wave whose two executives gave different countries) is in no part: index −1.
    """
    index = {}
    for column, part in parts.items():
        labels = part.assign(survey[column])
        codes = {p.label: i for i, p in enumerate(part.parts)}
        index[column] = labels.map(codes).fillna(-1).astype(int).to_numpy()
    frame = pd.DataFrame(index, index=survey.index)
    frame["_firm"] = survey["firm_id"].astype(str).to_numpy()
    wave = survey["wave"].astype("string").fillna("") if "wave" in survey else ""
    frame["_fw"] = frame["_firm"] + "\x1f" + wave
    role = survey["role"].astype(str).to_numpy()
    out = {}
    for unit in units:
        if unit in ("CMO", "CIO"):
            out[unit] = frame.loc[role == unit]
            continue
        sub = frame if unit == "firms" else frame.loc[np.isin(role, ("CMO", "CIO"))]
        grouped = sub.groupby("_fw", sort=True)
        low, high = grouped[list(parts)].min(), grouped[list(parts)].max()
        agg = low.where(low == high, -1)
        agg["_firm"] = grouped["_firm"].first()
        agg["_fw"] = agg.index
        if unit == "pairs":
            roles = pd.Series(role[np.isin(role, ("CMO", "CIO"))], index=sub.index)
            both = roles.groupby(sub["_fw"]).nunique() == 2
            agg = agg.loc[both.reindex(agg.index).fillna(False).to_numpy()]
        out[unit] = agg.reset_index(drop=True)
    return out


def _vertices(codes: np.ndarray, n_parts: int) -> tuple[np.ndarray, int]:
    """Part indices as vertex numbers; units in no part (−1) become one extra vertex."""
    extra = bool((codes < 0).any())
    return np.where(codes < 0, n_parts, codes), n_parts + int(extra)


def _subsets(n: int) -> np.ndarray:
    """Every subset of ``n`` vertices as a 0/1 matrix (2^n × n)."""
    return ((np.arange(2 ** n)[:, None] >> np.arange(n)) & 1).astype(np.float64)


def min_cut(table: pd.DataFrame, columns: Sequence[str], sizes: Sequence[int],
            min_cell: int, distinct: bool = False) -> tuple[int, tuple[tuple[int, ...], ...]] | None:
    """The smallest positive group that the published parts of one or two dimensions and the
    whole sample isolate by differencing, when it is below ``min_cell`` (else None).

    ``table`` holds one row per unit and, per column, the index of its part (−1: no part).
    For two dimensions, any linear combination of the published totals (the whole, the parts of
    each) is a function f(p) + g(q) of the two parts; its minimal supports are the cuts of the
    bipartite graph whose edges are the non-empty cells (p, q). Every cut is enumerated (a few
    thousand for a real grid), which makes the check exact; ``distinct`` counts distinct firms
    (``table["_firm"]``) instead of rows. Returns (size, sides) of the smallest violating cut.
    """
    if len(columns) == 1:
        v, n = _vertices(table[columns[0]].to_numpy(), sizes[0])
        best = None
        for k in range(n):
            members = table.loc[v == k]
            w = members["_firm"].nunique() if distinct else len(members)
            if 0 < w < min_cell and (best is None or w < best[0]):
                best = (int(w), ((k,),))
        return best
    if sizes[1] > sizes[0]:  # enumerate the larger side's subsets in chunks, the smaller's whole
        found = min_cut(table, columns[::-1], sizes[::-1], min_cell, distinct)
        return (found[0], found[1][::-1]) if found else None
    (vp, n_p), (vq, n_q) = (_vertices(table[c].to_numpy(), s) for c, s in zip(columns, sizes,
                                                                             strict=True))
    weights = np.zeros((n_p, n_q))
    np.add.at(weights, (vp, vq), 1.0)
    xs, ys = _subsets(n_p)[: 2 ** (n_p - 1)], _subsets(n_q)  # X and its complement: one cut
    # a cut of w firm-waves holds at least w / (most waves of one firm) distinct firms
    limit = min_cell * int(table["_firm"].value_counts().max()) if distinct else min_cell
    best = None
    for start in range(0, len(xs), 4096):
        x = xs[start:start + 4096]
        a = x @ weights  # per Y-vertex: weight from X
        b = weights.sum(axis=0) - a
        cut = a @ (1 - ys).T + b @ ys.T
        rows, cols = np.nonzero((cut > 0) & (cut < limit))
        for r, c in zip(rows, cols, strict=True):
            xi, yi = x[r].astype(bool), ys[c].astype(bool)
            inside = xi[vp] != yi[vq]
            w = table.loc[inside, "_firm"].nunique() if distinct else int(cut[r, c])
            if 0 < w < min_cell and (best is None or w < best[0]):
                best = (int(w), (tuple(np.nonzero(xi)[0]), tuple(np.nonzero(yi)[0])))
    return best


def audit(units: Mapping[str, pd.DataFrame], parts: Mapping[str, Partition],
          min_cell: int) -> Violation | None:
    """The first small group that differencing the whole sample and the published parts of the
    dimensions in ``parts`` (any one, or any two together) would isolate, or None."""
    published = [c for c, p in parts.items() if p.published]
    checks: list[tuple[str, ...]] = [(c,) for c in published]
    checks += [(a, b) for i, a in enumerate(published) for b in published[i + 1:]]
    for unit, table in units.items():
        if table.empty:
            continue
        for cols in checks:
            sizes = [len(parts[c].parts) for c in cols]
            found = min_cut(table, cols, sizes, min_cell, distinct=unit == "firms")
            if found:
                return Violation(unit, found[0], cols, found[1])
    return None


def merge_parts(part: Partition, a: int, b: int) -> Partition:
    """``part`` with parts ``a`` and ``b`` pooled into its "Other" part."""
    order = [v for p in part.parts for v in p.values]
    pooled = set()
    for p in (part.parts[a], part.parts[b], part.pooled):
        if p is not None:
            pooled |= {("v", v) for v in p.values}
    members = tuple(v for v in order if ("v", v) in pooled)
    rest = [p for i, p in enumerate(part.parts) if i not in (a, b) and not p.pooled]
    parts = rest + [Part(part.column, members, pooled=len(members) > 1 or bool(rest))]
    if not rest:
        parts = [Part(part.column, tuple(order), pooled=len(order) > 1)]
    note = (f"{part.note}; " if part.note else "") + \
        "categories pooled further so that no two segments differ by a small group"
    return Partition(part.column, parts, part.min_cell, part.units, note)


def _remedy(parts: dict[str, Partition], v: Violation, units: Mapping[str, pd.DataFrame]) -> None:
    """Pool one category more so that the violating cut ``v`` no longer exists."""
    table = units[v.unit]
    options = []
    for column, side in zip(v.columns, v.sides, strict=True):
        part = parts[column]
        n = len(part.parts)
        inside = [i for i in side if i < n]
        outside = [i for i in range(n) if i not in side]
        size = np.bincount(table[column].clip(lower=0).to_numpy(), minlength=n)[:n]
        other = next((i for i, p in enumerate(part.parts) if p.pooled), None)
        if other is not None:
            across = outside if other in side else inside
            options += [(size[i], column, other, i) for i in across]
        elif inside and outside:
            i, j = min(inside, key=lambda k: size[k]), min(outside, key=lambda k: size[k])
            options.append((size[i] + size[j], column, i, j))
    if not options:  # cannot happen for a cut between parts; pool the first column fully
        column = v.columns[0]
        parts[column] = merge_parts(parts[column], 0, len(parts[column].parts) - 1)
        return
    _cost, column, a, b = min(options, key=lambda o: (o[0], o[1]))
    parts[column] = merge_parts(parts[column], a, b)


_PARTITIONS: dict[tuple[Any, ...], dict[str, Partition]] = {}


def _fingerprint(survey: pd.DataFrame, spend: Mapping[str, pd.DataFrame | None] | None,
                 columns: Sequence[str]) -> str:
    h = hashlib.sha256()
    cols = [c for c in ("respondent_id", "firm_id", "role", "year", *columns)
            if c in survey.columns]
    h.update(pd.util.hash_pandas_object(survey[cols].astype("string"), index=False).to_numpy()
             .tobytes())
    for name, table in sorted((spend or {}).items()):
        if table is not None:
            h.update(name.encode())
            h.update(pd.util.hash_pandas_object(table[["firm_id", "year"]].astype("string"),
                                                index=False).to_numpy().tobytes())
    return h.hexdigest()


def partitions(survey: pd.DataFrame, min_cell: int = DEFAULT_MIN_CELL, *,
               spend: Mapping[str, pd.DataFrame | None] | None = None,
               dimensions: Sequence[str] = DIMENSIONS,
               units: Sequence[str] = DEFAULT_UNITS) -> dict[str, Partition]:
    """The published parts of every segment dimension the survey has, audited together.

    Each dimension is first partitioned on its own (:func:`partition`). Then every
    combination of the whole sample with the parts of one dimension or of any two dimensions is
    checked (:func:`audit`): when differencing them isolates fewer than ``min_cell`` CMOs,
    CIOs, pairs or firms (a country whose firms all sit in one industry: country minus
    industry), one more category is pooled and the check repeats. The result depends only on
    the data and ``min_cell``, so the batch grid, every report and every table agree on it.
    """
    columns = [c for c in dimensions if c in survey.columns]
    key = (_fingerprint(survey, spend, columns), min_cell, tuple(columns), tuple(units))
    if key in _PARTITIONS:
        return dict(_PARTITIONS[key])
    counter = Units(survey, spend, units)
    parts = {c: partition(survey, c, min_cell, counter=counter) for c in columns}
    audit_on = tuple(u for u in AUDIT_UNITS if u in counter.names)
    while True:
        table = audit_units(survey, parts, audit_on)
        found = audit(table, parts, min_cell)
        if found is None:
            break
        _remedy(parts, found, table)
    _PARTITIONS[key] = dict(parts)
    return parts


# --------------------------------------------------------------------------- secondary suppression
#: how a withheld count of a linked table is shown: small or withheld to protect a small one,
#: alike (a "<5" beside a published total would bound the cell, and two of them can pin it)
WITHHELD = "·"
WHOLE = "all"


def group_key(column: str, part: Part | str) -> str:
    """The row of a part in a :class:`CountCube`: ``"country: DE"``."""
    return f"{column}: {part.label if isinstance(part, Part) else part}"


@dataclass
class CountCube:
    """One count table computed for the whole sample and for every published part.

    ``values``: one row per group (``"all"`` for the whole sample, :func:`group_key` for a
    part), one column per count. ``groups``: for each segment dimension, the rows of its parts,
    which add up to ``"all"`` (a reader can add the reports of one dimension). ``sums``:
    equations inside a row, ``(total, [components])``. ``known``: columns every report publishes
    elsewhere (never withheld, known to a reader). The same cube, computed from the whole data,
    gives every report the same pattern, so no two reports combine into more than each shows.
    """

    values: pd.DataFrame
    groups: dict[str, list[str]]
    sums: list[tuple[str, list[str]]]
    known: list[str] = field(default_factory=list)

    def equations(self) -> list[list[tuple[tuple[int, int], int]]]:
        """Every published equation as ``[((row, column) position, coefficient)]`` = 0."""
        rows = {r: i for i, r in enumerate(self.values.index)}
        cols = {c: j for j, c in enumerate(self.values.columns)}
        eqs = []
        for i in range(len(rows)):
            for total, parts in self.sums:
                eqs.append([((i, cols[total]), 1)] + [((i, cols[c]), -1) for c in parts])
        if WHOLE in rows:
            for members in self.groups.values():
                for j in range(len(cols)):
                    eqs.append([((rows[WHOLE], j), 1)] + [((rows[r], j), -1) for r in members])
        return eqs


def _solver(cube: CountCube, suppressed: np.ndarray) -> tuple[list[tuple[int, int]], Any]:
    """The withheld cells and a function giving a reader's bounds on one of them."""
    from scipy.optimize import Bounds, LinearConstraint, milp

    values = cube.values.to_numpy(dtype=float)
    hidden = [tuple(int(x) for x in c) for c in np.argwhere(suppressed)]
    pos = {cell: i for i, cell in enumerate(hidden)}
    rows, rhs = [], []
    for eq in cube.equations():
        coef = np.zeros(len(hidden))
        b = 0.0
        for cell, k in eq:
            if cell in pos:
                coef[pos[cell]] += k
            else:
                b -= k * values[cell]
        if coef.any():
            rows.append(coef)
            rhs.append(b)
    constraints = [LinearConstraint(np.array(rows), rhs, rhs)] if rows else []
    bounds = Bounds(np.zeros(len(hidden)), np.full(len(hidden), np.inf))
    integral = np.ones(len(hidden))

    def bounds_of(cell: tuple[int, int]) -> tuple[float, float]:
        ends = []
        for sign in (1.0, -1.0):
            c = np.zeros(len(hidden))
            c[pos[cell]] = sign
            res = milp(c, constraints=constraints, integrality=integral, bounds=bounds)
            ends.append(sign * res.fun if res.status == 0 else sign * -np.inf)
        return ends[0], ends[1]

    return hidden, bounds_of


def intervals(cube: CountCube, suppressed: np.ndarray, min_cell: int,
              cells: Sequence[tuple[int, int]] | None = None
              ) -> dict[tuple[int, int], tuple[float, float]]:
    """What a reader can derive about each withheld cell (by position): its smallest and largest
    value.

    The reader knows every shown cell, every equation of the cube and that counts are whole
    numbers of at least 0; every withheld cell looks alike (:data:`WITHHELD`), small or not.
    Solved as integer programmes (scipy's HiGHS): a cell whose smallest and largest value
    coincide is given back by the published numbers.
    """
    hidden, bounds_of = _solver(cube, np.asarray(suppressed, dtype=bool))
    return {tuple(c): bounds_of(tuple(c)) for c in (cells or hidden)}


def secondary_suppression(cube: CountCube, min_cell: int = DEFAULT_MIN_CELL) -> pd.DataFrame:
    """Which cells of a :class:`CountCube` to withhold: primary and secondary suppression.

    Primary: counts from 1 to ``min_cell − 1``. Secondary, as in official statistics (Hundepool
    et al. 2012, *Statistical Disclosure Control*, ch. 4; tau-ARGUS): more cells are withheld
    until no withheld cell can be derived from the shown ones — every row, column or margin
    equation holding a withheld cell holds another, the withheld cells of an equation never add
    up to a small group (when they stand on one side of it their total follows: it is 0 or at
    least ``min_cell``), and integer programming over all equations together
    (:func:`intervals`) leaves every withheld cell at least two possible values. The next cell
    withheld is the smallest one sharing an equation with an exposed cell.
    ``attrs["derivable"]`` lists cells (row, column) that no choice could protect (all their
    equations made of cells published elsewhere), ``attrs["small_totals"]`` groups of withheld
    cells whose small total follows from the ``known`` columns alone (firm-waves minus pairs:
    the firm-waves with one executive); both are empty unless ``known`` gives them away.
    """
    values = cube.values.apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
    free = np.array([c not in cube.known for c in cube.values.columns])
    suppressed = (values > 0) & (values < min_cell) & free[None, :]
    primary = suppressed.copy()
    signed = cube.equations()
    eqs = [[cell for cell, _sign in eq] for eq in signed]
    derivable: list[tuple[int, int]] = []
    useless: set[tuple[int, int]] = set()  # withheld in vain: pinned by published cells

    def pick(options: list[tuple[int, int]]) -> tuple[int, int]:
        return min(options, key=lambda c: (values[c], c))  # the least information lost

    def open_cells(cells: list[tuple[int, int]]) -> list[tuple[int, int]]:
        return [c for c in cells if free[c[1]] and not suppressed[c] and c not in useless]

    def neighbours(cell: tuple[int, int]) -> list[tuple[int, int]]:
        """Cells that could be withheld beside ``cell``: in its equations, else in the
        equations of the withheld cells linked to it (what pins a cell may be a few
        equations away)."""
        seen, frontier = {cell}, [cell]
        while frontier:
            options = list(dict.fromkeys(c for cells in eqs if any(f in cells for f in frontier)
                                         for c in open_cells(cells)))
            if options:
                return options
            linked = {c for cells in eqs if any(f in cells for f in frontier)
                      for c in cells if suppressed[c]} - seen
            seen |= linked
            frontier = list(linked)
        return []

    def stuck(cell: tuple[int, int]) -> None:
        """No cell left to withhold beside ``cell``: a secondary cell is shown again (it is
        derivable, so withholding it protects nothing); a small one is recorded."""
        if primary[cell]:
            derivable.append(cell)
        else:
            suppressed[cell] = False
            useless.add(cell)

    def small_total(eq: list[tuple[tuple[int, int], int]]) -> float:
        """The total of the withheld cells of an equation when they all stand on one side of
        it (then the total follows from the shown cells); 0 otherwise."""
        sides = {k for c, k in eq if suppressed[c]}
        return sum(values[c] for c, _sign in eq if suppressed[c]) if len(sides) == 1 else 0.0

    small_sums: list[list[tuple[int, int]]] = []
    while True:
        changed = False
        for cells in eqs:  # fast pass: an equation with exactly one withheld cell gives it back
            hidden = [c for c in cells if suppressed[c]]
            if len(hidden) == 1 and hidden[0] not in derivable:
                options = open_cells(cells)
                if options:
                    suppressed[pick(options)] = True
                else:
                    stuck(hidden[0])
                changed = True
        for eq, cells in zip(signed, eqs, strict=True):
            # withheld cells that together are a small group: their total follows from the
            # equation ("whole minus the shown segments" would count fewer than min_cell)
            total = small_total(eq)
            if 0 < total < min_cell and cells not in small_sums:
                options = open_cells(cells)
                if options:
                    enough = [c for c in options if values[c] >= min_cell - total]
                    suppressed[pick(enough or options)] = True
                    changed = True
                else:
                    small_sums.append(cells)
        if changed:
            continue
        hidden_cells, bounds_of = _solver(cube, suppressed)
        cell = next((c for c in hidden_cells if c not in derivable
                     and np.subtract(*bounds_of(c)[::-1]) < 1 - 1e-9), None)
        if cell is None:
            break
        options = neighbours(cell)
        if options:
            suppressed[pick(options)] = True
        else:
            stuck(cell)
    out = pd.DataFrame(suppressed, index=cube.values.index, columns=cube.values.columns)
    out.attrs["derivable"] = [(cube.values.index[r], cube.values.columns[c])
                              for r, c in derivable]
    out.attrs["small_totals"] = [[(cube.values.index[r], cube.values.columns[c])
                                  for r, c in cells if suppressed[r, c]]
                                 for eq, cells in zip(signed, eqs, strict=True)
                                 if 0 < small_total(eq) < min_cell]
    return out


def shown_cells(cube: CountCube, suppressed: pd.DataFrame, min_cell: int) -> pd.DataFrame:
    """The cube as reports show it: withheld cells as :data:`WITHHELD`, counts as integers."""
    values = cube.values.to_numpy(dtype=float)
    hidden = suppressed.to_numpy(dtype=bool)
    cells = [[WITHHELD if h else (int(v) if np.isfinite(v) else np.nan)
              for v, h in zip(vr, hr, strict=True)] for vr, hr in zip(values, hidden, strict=True)]
    return pd.DataFrame(cells, index=cube.values.index, columns=cube.values.columns,
                        dtype=object)


def union_row(cube: CountCube, suppressed: pd.DataFrame, rows: Sequence[str],
              min_cell: int) -> pd.Series:
    """A group made of several parts (a list segment): the sum of their rows, each cell shown
    only when every part's cell is shown (then it is derivable anyway, so it adds nothing)."""
    total = cube.values.loc[list(rows)].sum()
    hidden = suppressed.loc[list(rows)].any()
    return pd.Series([WITHHELD if hidden[c] else int(total[c]) for c in cube.values.columns],
                     index=cube.values.columns, dtype=object)


# --------------------------------------------------------------------------- segments of a report
@dataclass
class SegmentView:
    """Where a report's segment sits among the published parts.

    ``kind``: ``"whole"`` (no segment), ``"part"`` (one part of one dimension), ``"union"``
    (several parts of one dimension), ``"cross"`` (several dimensions at once) or ``"empty"``
    (a value the data does not hold: the report has nobody to describe and says so).
    """

    kind: str
    column: str | None = None
    parts: list[Part] = field(default_factory=list)

    @property
    def rows(self) -> list[str]:
        """The segment's rows in a :class:`CountCube`."""
        return [group_key(self.column, p) for p in self.parts] if self.column else [WHOLE]

    @property
    def label(self) -> str:
        return " + ".join(p.label for p in self.parts) if self.parts else "whole sample"


def published_parts(data: Any, min_cell: int = DEFAULT_MIN_CELL,
                    exclude: Sequence[str] = ()) -> dict[str, Partition]:
    """:func:`partitions` of processed data (``helpers.processing.ProcessedData``) as the
    reports use it: the survey after leaving out the respondents ``exclude`` names, with the
    budgets and ledger firm-years as units."""
    from helpers.quality import exclude_flagged  # quality builds on this module

    survey = exclude_flagged(data.survey, list(exclude)) if exclude else data.survey
    return partitions(survey, min_cell, spend={"budgets": data.budgets, "ledger": data.spend})


def segment_view(segment: Mapping[str, Any] | None, parts: Mapping[str, Partition],
                 where: str = "the report parameter `segment`") -> SegmentView:
    """The published parts a segment is made of; a :class:`~helpers.errors.DataError` naming
    ``where`` when it is not a union of published parts of its dimension (it would describe a
    group that some published report lacks, and differencing would isolate it)."""
    from helpers.errors import DataError

    if not segment:
        return SegmentView("whole")
    bad = [c for c in segment if c not in parts]
    if bad:
        raise DataError(
            f"segment by {', '.join(map(str, bad))}: reports are published for segments of "
            f"{', '.join(parts) or 'no dimension'} only, whose small categories are pooled and "
            "audited together", file=where, column=str(bad[0]), rule="segment-not-published",
            hint="segment by " + ", ".join(parts) + " (a grid lists the published parts)")
    views = {}
    for column, value in segment.items():
        part = parts[column]
        found = part.parts_for(value)
        if found is None:
            shown = "; ".join(p.label for p in part.parts)
            raise DataError(
                f"segment {column} = {_values_text(value)} "
                f"is not a union of the published parts of {column} ({shown}): categories with "
                f"fewer than {part.min_cell} CMOs, CIOs, firms, pairs or firm-years are only "
                "published pooled, so that no report describes a small group and no two "
                "reports differ by one", file=where, column=column, rule="segment-not-published",
                hint=f"use the grid (segment: [{column}]) or one of its parts, e.g. "
                     f"{parts[column].parts[-1].segment}" if part.published else
                     f"{column} has no segment grid at this minimum cell size")
        views[column] = found
    if any(not found for found in views.values()):
        return SegmentView("empty")
    if len(views) == 1:
        column, found = next(iter(views.items()))
        return SegmentView("part" if len(found) == 1 else "union", column, found)
    return SegmentView("cross", None, [p for found in views.values() for p in found])


def _values_text(value: Any) -> str:
    values = value if isinstance(value, list | tuple) else [value]
    return ", ".join(value_label(v) for v in values)


def check_cross_segment(survey: pd.DataFrame, segment: Mapping[str, Any],
                        parts: Mapping[str, Partition], min_cell: int,
                        spend: Mapping[str, pd.DataFrame | None] | None = None,
                        where: str = "reports.yaml") -> None:
    """Refuse (``DataError``) a segment of several dimensions unless every cell of the
    cross-classification of their published parts meets every minimum and the cells, audited
    beside the other dimensions, isolate no small group."""
    from helpers.errors import DataError

    columns = list(segment)
    counter = Units(survey, spend)
    labels = pd.Series("", index=survey.index, dtype=object)
    for c in columns:
        labels = labels + "|" + parts[c].assign(survey[c]).astype(str)
    cells = sorted(set(labels))
    short = []
    for cell in cells:
        counts = counter.count((labels == cell).to_numpy())
        small = counter.short(counts, min_cell)
        if small:
            short.append(f"{cell.strip('|').replace('|', ' × ')} ({', '.join(small)})")
    combined = "×".join(columns)
    frame = survey.assign(**{combined: labels.to_numpy()})
    cross = {c: p for c, p in parts.items() if c not in columns}
    cross[combined] = Partition(combined, [Part(combined, (v,)) for v in cells], min_cell)
    found = None if short else audit(audit_units(frame, cross, AUDIT_UNITS), cross, min_cell)
    if short or found:
        why = (f"cells with fewer than {min_cell} of a unit: {'; '.join(short[:4])}" if short
               else found.describe(cross))
        raise DataError(f"segment {dict(segment)} crosses {', '.join(columns)}, but {why}",
                        file=where, column=combined, rule="segment-not-published",
                        hint="use single-dimension segments (the grid) instead")


def check_published(segment: Mapping[str, Any] | None, parts: Mapping[str, Partition],
                    survey: pd.DataFrame | None = None, min_cell: int = DEFAULT_MIN_CELL,
                    spend: Mapping[str, pd.DataFrame | None] | None = None) -> SegmentView:
    """The report's :func:`segment_view`; stops the report (``TooFewResponses``) when its
    segment is not published — a category pooled into "Other", or a crossing of dimensions
    whose cells are too small (``survey`` needed to check those)."""
    from helpers.errors import DataError

    try:
        view = segment_view(segment, parts)
        if view.kind == "empty":
            raise TooFewResponses("too few responses to report this segment: the data holds "
                                  "none of its respondents.")
        if view.kind == "cross" and survey is not None:
            check_cross_segment(survey, dict(segment or {}), parts, min_cell, spend,
                                where="the report parameter `segment`")
    except DataError as err:
        message = err.issues[0].message if err.issues else str(err)
        raise TooFewResponses(f"this segment is not published: {message}"
                              + (f" ({err.hint})" if err.hint else "")) from None
    return view
