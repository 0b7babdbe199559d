"""Rename source columns to codebook names, recode answer labels to values and select rows.

Raw exports name their columns after the survey tool (Qualtrics ``Q1_1``, SPSS ``v12``) and
often hold answer *labels* ("Agree", "Marketingleiter") instead of codes.  A mapping file says
how one export maps onto the codebook, so the same processing code serves every wave and tool.

Mapping file (YAML); every key is optional::

    source: "Qualtrics export of wave 2"      # free text
    columns:                                   # source column -> target column
      Q1_1: imp_1
      ResponseId: respondent_id
      Q_role: role
    drop: [IPAddress, RecipientEmail]          # source columns to leave out
    value_labels: true   # use the file's own SPSS/Stata value labels (see below)
    recode:                                    # key: label -> value
      role: {"Chief Marketing Officer": CMO, "Marketingleiter": CMO, "IT-chef": CIO}
      agree5: {"Stimme gar nicht zu": 1, "Stimme nicht zu": 2, "Teils/teils": 3,
               "Stimme zu": 4, "Stimme voll zu": 5}   # a scale id: every item on the scale
      "cofund_1, kpi_1": {"Ja": 1, "Nein": 0}         # a comma-separated list of columns
      mutual_trust: {"Keine Angabe": null}            # a construct id: all its items
      imp_1: {"Keine Angabe": dont_know}              # one column (wins over the groups)
    dont_know: ["Weiß nicht", "Don't know", 99]       # "don't know" answers of every item
    exclude:                                   # rows to leave out, each counted by reason
      - reason: "test responses"
        column: Q_test                         # a source column or a target name
        values: ["yes", "test"]
      - reason: "forwarded-link duplicate"
        ids: [R_abc, R_def]                    # values of the column mapped to respondent_id
      - reason: "neither CMO nor CIO"
        column: role
        not_in: [CMO, CIO]
      - reason: "too fast"
        column: duration_seconds
        below: 120
    unfinished: exclude                        # or keep (Qualtrics Finished/Progress)
    wave_years: {1: 2023, 2: 2024}             # the fiscal year each wave's answers refer to
    budgets:                                   # the budgets file: same renaming
      columns: {Firma: firm_id, Jahr: year, "Währung": currency, Umsatz: revenue}
      drop: [Kommentar]
    ledger:                                    # the ledger files: same renaming
      columns: {Buchungsdatum: booking_date, Betrag: amount}
      date_format: "%d/%m/%Y"   # only for text dates the ledger cannot tell (01/02/2024)
      decimal: ","              # only for text amounts it cannot tell (1.234 or 1,234)

Rules applied by :func:`apply_mapping` (which returns a new frame and never mutates its input):

* ``columns`` renames; columns not listed keep their names.  A listed source column that is
  absent from the data is an error (rule ``mapping-column-missing``) that suggests similar names
  and lists the columns found; ``drop`` ignores absent columns.  A target may be used only once
  and may not collide with a kept column.
* ``recode`` keys name TARGET columns (after renaming), a construct id of the codebook (all its
  items in the data), a scale id (every item on that scale in the data, e.g. ``agree5``) or a
  comma-separated list of such names ("imp_1, imp_2").  A column can get labels from several
  keys: a column key wins over a list, a list over a construct, a construct over a scale, and
  ``dont_know`` is the weakest; the winner decides a label only where both name the same label.
  A column named by two lists is an error (``mapping-recode-overlap``).
* Labels match case-insensitively with whitespace trimmed and collapsed; numbers match
  numerically ("4" matches 4).  A cell holding a coded answer (SPSS/Stata) also matches through
  its value label: with labels ``{1: Deutschland}``, ``recode: {country: {Deutschland: DE}}``
  turns code 1 into ``DE``; a recode of the code itself (``{1: DE}``) wins over its label.
* A label mapped to ``null`` becomes missing ("skipped"); a label mapped to the reserved target
  ``dont_know`` also becomes missing in the item, but is recorded in ``out.attrs["dont_know"]``
  (column -> row positions) so that ``make data`` writes it to ``dont_know.parquet`` and the
  data-quality report counts "don't know" apart from skipped items.  ``dont_know:`` lists
  labels or codes that mean "don't know" in every item; it is only for items (a ``dont_know``
  target on another column is an error, ``mapping-dont-know-field``).  SPSS/Stata cells that
  were user-missing (``df.attrs["missing_cells"]``, consumed here) stay missing, but count as
  "don't know" when their code or its value label is recoded to ``dont_know``.
* With ``value_labels: true`` the file's value labels (``df.attrs["value_labels"]``, e.g. from
  SPSS) turn answer labels back into codes, and labelled codes count as valid; explicit
  ``recode`` entries win over them.  In a category field of the codebook (country, industry,
  size band, language) a labelled code becomes its label instead, so that ``recode`` and
  validation see the text.
* A value that is neither a known label nor already a valid target value is left unchanged for
  validation to report, and listed in ``out.attrs["unmapped_labels"]`` (column -> sorted
  values).  Numeric codes in a column recoded only through value labels count as valid.
* A ``role`` column is always normalised to ``CMO``/``CIO`` after the recodes: numeric codes
  with a value label are replaced by their label, then :func:`normalise_role` applies.
* Per-column attrs (``question_text``, ``value_labels``, ``missing_codes``, ``import_ids``)
  follow the renames; ``attrs["mapping"]`` records the mapping file.

Row selection (``exclude``, ``unfinished`` and the Qualtrics metadata; applied by
:func:`helpers.selection.select_rows` BEFORE validation, so excluded rows never produce
validation errors): each ``exclude`` rule has a ``reason`` (shown in the data-quality report) and
either ``ids`` (respondent ids, matched as text) or a ``column`` with exactly one test: ``values``
(a list), ``equals`` (one value), ``not_in`` (a list), or ``above``/``below``/``at_least``/
``at_most`` (a number).  Values match like recode labels (also through value labels); on
``role`` they match after role normalisation.  An empty cell matches only ``values``/``equals``
holding ``null``.  ``unfinished: exclude`` (the default) or ``keep`` decides Qualtrics responses
with ``Finished`` false or ``Progress`` below 100.  See :mod:`helpers.selection`.

``wave_years`` (integer keys) gives the year each wave refers to; it fills the ``year`` column
(see :func:`helpers.processing.add_year` for the fallbacks; a survey without a wave column is
the single wave of ``wave_years``, see :func:`helpers.processing.add_wave`).  ``budgets`` and ``ledger`` take
``columns`` (and, for budgets, ``drop``) as above, for :func:`helpers.processing.load_budgets`
and :func:`helpers.spend.firm_year_features`. The ledger's text dates and amounts are read in
whatever known form they come (ISO, ``yyyymmdd``, ``DD.MM.YYYY``, decimal commas); a form that
cannot be told apart (``01/02/2024``, ``1.234``) is a DataError asking for ``date_format``
(strftime-style: ``%d/%m/%Y``, ``%m/%d/%Y``; directives ``%Y %y %m %d %H %M %S``) or
``decimal`` (``","`` or ``"."``).

YAML notes: only ``true``/``false`` are booleans, so labels such as ``Yes``, ``No``, ``On`` stay
text; a key given twice is an error instead of silently keeping the last one; quote column
names that look like numbers (``"2_1"``), which YAML would otherwise read as integers.
"""

from __future__ import annotations

import copy
import difflib
import math
import re
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from helpers.codebook import Codebook, load_codebook
from helpers.errors import DataError, Issue, quote
from helpers.io import PER_COLUMN_ATTRS
from helpers.safe_yaml import SafeLoader, load_yaml

TOP_LEVEL_KEYS = ("source", "columns", "recode", "value_labels", "drop", "dont_know", "exclude",
                  "unfinished", "wave_years", "budgets", "ledger")
ROLE_COLUMN = "role"
DONT_KNOW_TARGET = "dont_know"
UNFINISHED_CHOICES = ("exclude", "keep")
DEFAULT_UNFINISHED = "exclude"
VALUE_TESTS = ("values", "equals", "not_in")
COMPARISONS = {"above": ">", "below": "<", "at_least": ">=", "at_most": "<="}
EXCLUDE_TESTS = (*VALUE_TESTS, *COMPARISONS)
YEAR_RANGE = (1990, 2100)
MAX_COLUMNS_LISTED = 40

ROLE_LABELS = {
    "CMO": (
        "CMO", "Chief Marketing Officer", "Marketing", "Head of Marketing", "Marketing Director",
        "Director of Marketing", "Marketingleiter", "Marketingleiterin", "Leiter Marketing",
        "Leiterin Marketing", "Marketingdirektor", "Marketingdirektorin", "Marketingchef",
        "Marketingchefin", "Marketingdirecteur", "Directeur Marketing", "Hoofd Marketing",
        "Marketingdirektør", "Marketingleder",
    ),
    "CIO": (
        "CIO", "Chief Information Officer", "IT", "Information Technology", "Head of IT",
        "IT Director", "Director of IT", "IT-Leiter", "IT-Leiterin", "Leiter IT", "Leiterin IT",
        "IT-Direktor", "IT-Direktorin", "IT-Chef", "IT-Chefin", "IT-directeur", "Directeur IT",
        "Hoofd IT", "IT-direktør", "IT-leder",
    ),
}


class _DontKnow:
    """The reserved recode target ``dont_know`` (a singleton): missing, but counted apart."""

    _instance: _DontKnow | None = None

    def __new__(cls) -> _DontKnow:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return DONT_KNOW_TARGET

    def __reduce__(self) -> tuple[type, tuple[()]]:
        return (_DontKnow, ())


DONT_KNOW = _DontKnow()


@dataclass(frozen=True)
class ExcludeRule:
    """One ``exclude`` entry: leave out the rows it matches, counted under ``reason``.

    ``test`` is ``ids`` or one of :data:`EXCLUDE_TESTS`; ``values`` holds the listed values (one
    for ``equals``, the ids for ``ids``) and ``number`` the bound of a comparison.
    """

    reason: str
    test: str
    column: str | None = None
    values: tuple[Any, ...] = ()
    number: float | None = None

    def describe(self, codebook: Codebook | None = None) -> str:
        """The rule as text for the exclusions table, which reports show.

        Listed values are quoted only for columns whose values say nothing about a person: the
        codebook's non-personal fields and items, and Qualtrics' metadata. Any other column (an
        e-mail, a name, a free-text field, an id) is described by the number of values listed,
        so a rule such as ``{column: email, values: [tester@firm.example]}`` never puts the
        address into a report. Respondent ids are never listed.
        """
        if self.test == "ids":
            return f"respondent_id is one of {len(self.values)} listed id(s)"
        if self.test in COMPARISONS:
            return f"{self.column} {COMPARISONS[self.test]} {self.number:g}"
        if not _values_are_safe(self.column, codebook or load_codebook()):
            listed = sum(v is not None for v in self.values)
            empty = " or empty" if None in self.values else ""
            what = f"one of {listed} listed value(s){empty}"
            return f"{self.column} {'is not' if self.test == 'not_in' else 'is'} {what}"
        shown = ", ".join("empty" if v is None else repr(v) for v in self.values)
        if self.test == "equals":
            return f"{self.column} = {shown}"
        return f"{self.column} {'not in' if self.test == 'not_in' else 'in'} [{shown}]"


def _values_are_safe(column: str | None, codebook: Codebook) -> bool:
    """Whether a rule's listed values may be shown: codebook items and non-personal fields
    other than ids, and Qualtrics' response metadata (see :meth:`ExcludeRule.describe`)."""
    if column is None:
        return False
    field = codebook.fields.get(column)
    if field is not None:
        return not field.pii and column not in ("respondent_id", "firm_id")
    return column in codebook.items or column in _SAFE_METADATA


# Qualtrics metadata that describes the response, not the person (not IP, names, e-mail, location)
_SAFE_METADATA = frozenset({"Status", "Finished", "Progress", "DistributionChannel",
                            "UserLanguage", "Duration (in seconds)", "Response Type",
                            "Distribution Channel", "User Language"})


@dataclass(frozen=True)
class TableMapping:
    """Renaming of a budgets or ledger table: ``columns`` (source -> target) and ``drop``; for
    a ledger also how its text dates and amounts are written (``date_format``, ``decimal``)."""

    columns: dict[str, str] = field(default_factory=dict)
    drop: tuple[str, ...] = ()
    date_format: str | None = None  # e.g. "%d/%m/%Y" (ledger only)
    decimal: str | None = None  # "," or "." (ledger only)


@dataclass(frozen=True)
class Mapping:
    """A validated mapping file; see the module docstring for the meaning of each field."""

    columns: dict[str, str] = field(default_factory=dict)
    recode: dict[str, dict[Any, Any]] = field(default_factory=dict)
    value_labels: bool = False
    drop: tuple[str, ...] = ()
    source: str | None = None
    path: str | None = None
    dont_know: tuple[Any, ...] = ()
    exclude: tuple[ExcludeRule, ...] = ()
    unfinished: str = DEFAULT_UNFINISHED
    wave_years: dict[int, int] = field(default_factory=dict)
    budgets: TableMapping = field(default_factory=TableMapping)
    ledger: TableMapping = field(default_factory=TableMapping)


# --- loading ----------------------------------------------------------------------------------


class _Loader(SafeLoader):
    """The project's safe loader (alias limit) reading only true/false as booleans and
    rejecting duplicate keys."""


_BOOL_TAG = "tag:yaml.org,2002:bool"
_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != _BOOL_TAG]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(_BOOL_TAG, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
                              list("tTfF"))


def _unique_keys(loader: _Loader, node: yaml.MappingNode) -> dict[Any, Any]:
    """Construct a YAML mapping, refusing a key that occurs twice."""
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        if isinstance(key, Hashable) and key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"key {quote(key)} is given twice", key_node.start_mark)
        seen.add(key)
    return loader.construct_mapping(node, deep=True)


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _unique_keys)


def load_mapping(path: str | Path) -> Mapping:
    """Read and validate a mapping file; every problem is a DataError naming the file.

    The file is read by :func:`helpers.safe_yaml.load_yaml`: nested aliases that would expand
    it beyond the node limit ("billion laughs") are refused with a DataError.
    """
    raw = load_yaml(path, rule="mapping-yaml", what="mapping file", loader=_Loader)
    return _parse(raw, str(path))


def _parse(raw: Any, file: str) -> Mapping:
    """Check the structure of the loaded YAML and build the Mapping."""
    if raw is None:
        raise DataError("the mapping file is empty", file=file, rule="empty-file")
    if not isinstance(raw, dict):
        raise _structure(file, "the file must be a YAML mapping with keys "
                         + ", ".join(TOP_LEVEL_KEYS))
    unknown = sorted(str(k) for k in raw if k not in TOP_LEVEL_KEYS)
    if unknown:
        close = [m for k in unknown
                 for m in difflib.get_close_matches(k, TOP_LEVEL_KEYS, n=1, cutoff=0.6)]
        guess = f"did you mean {' or '.join(repr(m) for m in close)}? " if close else ""
        raise DataError(f"unknown top-level key(s) {unknown}", file=file,
                        rule="mapping-unknown-key",
                        hint=f"{guess}allowed keys: {', '.join(TOP_LEVEL_KEYS)}")
    columns = _parse_columns(raw.get("columns") or {}, file)
    drop = _parse_drop(raw.get("drop") or [], file)
    _check_renamed_and_dropped(columns, drop, file, "")
    value_labels = raw.get("value_labels", False)
    if not isinstance(value_labels, bool):
        raise _structure(file, "'value_labels' must be true or false")
    source = raw.get("source")
    return Mapping(columns=columns, recode=_parse_recode(raw.get("recode") or {}, file),
                   value_labels=value_labels, drop=drop,
                   source=None if source is None else str(source), path=file,
                   dont_know=_parse_dont_know(raw.get("dont_know"), file),
                   exclude=_parse_exclude(raw.get("exclude"), file),
                   unfinished=_parse_unfinished(raw.get("unfinished", DEFAULT_UNFINISHED), file),
                   wave_years=_parse_wave_years(raw.get("wave_years"), file),
                   budgets=_parse_table(raw.get("budgets"), file, "budgets", ("columns", "drop")),
                   ledger=_parse_table(raw.get("ledger"), file, "ledger",
                                       ("columns", "date_format", "decimal")))


def _structure(file: str, message: str, column: str | None = None) -> DataError:
    """DataError for a mapping file whose YAML has the wrong shape."""
    return DataError(message, file=file, column=column, rule="mapping-structure",
                     hint="see the mapping file format in data/README.md (or the "
                          "helpers.mapping docstring)")


def _name(value: Any) -> str | None:
    """A column name given as a YAML scalar, or None when it is not one."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None
    return str(value).strip() or None


def _is_scalar(value: Any) -> bool:
    """Text or a (finite or not) number, not a bool, list or mapping."""
    return isinstance(value, str | int | float) and not isinstance(value, bool)


def _parse_columns(raw: Any, file: str, section: str = "") -> dict[str, str]:
    """``columns``: source -> target names, each target used once."""
    where = f"'{section}columns'"
    if not isinstance(raw, dict):
        raise _structure(file, f"{where} must be a mapping of source column -> target column")
    columns: dict[str, str] = {}
    for source, target in raw.items():
        source_name, target_name = _name(source), _name(target)
        if source_name is None or target_name is None:
            raise _structure(file, f"{where} entry {quote(source)}: {quote(target)} must map a column "
                             "name to a column name", column=str(source))
        if target_name in columns.values():
            others = [s for s, t in columns.items() if t == target_name]
            raise DataError(f"target '{target_name}' is used for {others + [source_name]}",
                            file=file, column=target_name, rule="mapping-duplicate-target",
                            hint="each target column may come from one source column only")
        columns[source_name] = target_name
    return columns


def _parse_drop(raw: Any, file: str, section: str = "") -> tuple[str, ...]:
    """``drop``: a list of source column names."""
    names = [_name(item) for item in raw] if isinstance(raw, list) else [None]
    if None in names:
        raise _structure(file, f"'{section}drop' must be a list of column names")
    return tuple(name for name in names if name is not None)


def _check_renamed_and_dropped(columns: dict[str, str], drop: tuple[str, ...], file: str,
                               section: str) -> None:
    both = sorted(set(drop) & set(columns))
    if both:
        raise DataError(f"column(s) {both} are both renamed and dropped", file=file,
                        column=both[0], rule="mapping-conflict",
                        hint=f"remove them from '{section}columns' or from '{section}drop'")


def _parse_recode(raw: Any, file: str) -> dict[str, dict[Any, Any]]:
    """``recode``: per key a mapping label -> scalar value (null = missing, dont_know)."""
    if not isinstance(raw, dict):
        raise _structure(file, "'recode' must map columns (or a construct, a scale or a "
                         "comma-separated list of columns) to label -> value mappings")
    recode: dict[str, dict[Any, Any]] = {}
    for column, labels in raw.items():
        name = _name(column)
        if name is None or not isinstance(labels, dict):
            raise _structure(file, f"'recode' entry {quote(column)} must be a mapping of "
                             "label -> value", column=str(column))
        for label, value in labels.items():
            if isinstance(label, list | dict) or isinstance(value, list | dict):
                raise _structure(file, f"recode label {quote(label)} -> {quote(value)} must map a text "
                                 "or number to a text, number, null or dont_know", column=name)
        labels = {label: DONT_KNOW if value == DONT_KNOW_TARGET else value
                  for label, value in labels.items()}
        _check_labels_unique(labels, name, file)
        recode[name] = labels
    return recode


def _check_labels_unique(labels: dict[Any, Any], column: str, file: str) -> None:
    """Labels equal up to case and whitespace must not map to different values."""
    seen: dict[Any, tuple[Any, Any]] = {}
    for label, value in labels.items():
        key = _key(label)
        if key in seen and seen[key][1] != value:
            raise DataError(f"labels {quote(seen[key][0])} and {quote(label)} match the same answers but "
                            f"map to {quote(seen[key][1])} and {quote(value)}", file=file, column=column,
                            rule="mapping-duplicate-label",
                            hint="labels are matched ignoring case and surrounding whitespace")
        seen[key] = (label, value)


def _parse_dont_know(raw: Any, file: str) -> tuple[Any, ...]:
    """``dont_know``: labels or codes that mean "don't know" in every item."""
    if raw is None:
        return ()
    values = raw if isinstance(raw, list) else [raw]
    if not values or not all(_is_scalar(v) and str(v).strip() for v in values):
        raise _structure(file, "'dont_know' must be a list of answer labels or codes, e.g. "
                         "[\"Weiß nicht\", 99]")
    return tuple(values)


def _parse_unfinished(raw: Any, file: str) -> str:
    """``unfinished``: exclude or keep."""
    if raw not in UNFINISHED_CHOICES:
        raise _structure(file, f"'unfinished' must be one of {', '.join(UNFINISHED_CHOICES)} "
                         f"(default {DEFAULT_UNFINISHED}), not {quote(raw)}")
    return str(raw)


def _parse_exclude(raw: Any, file: str) -> tuple[ExcludeRule, ...]:
    """``exclude``: a list of rules, each with a reason and ids or one column test."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise _structure(file, "'exclude' must be a list of rules (- reason: ..., column: ..., "
                         "values: [...])")
    return tuple(_parse_rule(entry, n, file) for n, entry in enumerate(raw, start=1))


def _parse_rule(entry: Any, n: int, file: str) -> ExcludeRule:
    """One ``exclude`` entry."""
    allowed = ("reason", "column", "ids", *EXCLUDE_TESTS)
    where = f"'exclude' rule {n}"
    if not isinstance(entry, dict):
        raise _structure(file, f"{where} must be a mapping with 'reason' and a test")
    unknown = [str(k) for k in entry if k not in allowed]
    if unknown:
        raise _structure(file, f"{where} has unknown key(s) {unknown}; allowed: "
                         f"{', '.join(allowed)}")
    reason = entry.get("reason")
    if not _is_scalar(reason) or not str(reason).strip():
        raise _structure(file, f"{where} needs a 'reason' (text shown in the data-quality "
                         "report)")
    reason = str(reason).strip()
    tests = [k for k in EXCLUDE_TESTS if k in entry]
    if "ids" in entry:
        ids = entry["ids"]
        if tests or "column" in entry:
            raise _structure(file, f"{where} ({reason}): 'ids' takes no 'column' or value test")
        if not isinstance(ids, list) or not ids or not all(_is_scalar(i) and str(i).strip()
                                                           for i in ids):
            raise _structure(file, f"{where} ({reason}): 'ids' must be a list of respondent ids")
        return ExcludeRule(reason=reason, test="ids", values=tuple(str(i).strip() for i in ids))
    column = _name(entry.get("column"))
    if column is None:
        raise _structure(file, f"{where} ({reason}) needs a 'column' (or 'ids')")
    if len(tests) != 1:
        raise _structure(file, f"{where} ({reason}) needs exactly one of "
                         f"{', '.join(EXCLUDE_TESTS)}", column=column)
    test, value = tests[0], entry[tests[0]]
    if test in COMPARISONS:
        if not isinstance(value, int | float) or isinstance(value, bool) or math.isnan(value):
            raise _structure(file, f"{where} ({reason}): '{test}' must be a number", column)
        return ExcludeRule(reason=reason, test=test, column=column, number=float(value))
    values = [value] if test == "equals" else value
    if not isinstance(values, list) or not values or not all(
            v is None or isinstance(v, bool) or _is_scalar(v) for v in values):
        kind = "a value" if test == "equals" else "a list of values"
        raise _structure(file, f"{where} ({reason}): '{test}' must be {kind}", column)
    if test == "not_in" and None in values:
        raise _structure(file, f"{where} ({reason}): 'not_in' cannot list null (empty cells "
                         "never match not_in; use values: [null] for them)", column)
    return ExcludeRule(reason=reason, test=test, column=column, values=tuple(values))


def _parse_wave_years(raw: Any, file: str) -> dict[int, int]:
    """``wave_years``: wave number -> year, both integers."""
    if raw is None:
        return {}
    if not isinstance(raw, dict) or not raw:
        raise _structure(file, "'wave_years' must map wave numbers to years, e.g. "
                         "{1: 2023, 2: 2024}")
    years: dict[int, int] = {}
    for wave, year in raw.items():
        w, y = _integer(wave), _integer(year)
        if w is None or w < 1 or y is None or not YEAR_RANGE[0] <= y <= YEAR_RANGE[1]:
            raise _structure(file, f"'wave_years' entry {quote(wave)}: {quote(year)} must map a wave "
                             f"number (1, 2, ...) to a year between {YEAR_RANGE[0]} and "
                             f"{YEAR_RANGE[1]}", column="wave")
        if w in years:
            raise _structure(file, f"'wave_years' gives wave {w} twice", column="wave")
        years[w] = y
    return years


def _integer(value: Any) -> int | None:
    """An integer given as a YAML int or digit text ("2"), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def _parse_table(raw: Any, file: str, section: str, keys: tuple[str, ...]) -> TableMapping:
    """``budgets`` / ``ledger``: ``columns`` (and ``drop``; for the ledger ``date_format`` and
    ``decimal``) for another input table."""
    if raw is None:
        return TableMapping()
    if not isinstance(raw, dict) or not set(raw) <= set(keys):
        raise _structure(file, f"'{section}' must be a mapping with {', '.join(keys)}, e.g. "
                         f"{section}: {{columns: {{Jahr: year}}}}")
    prefix = f"{section}: "
    columns = _parse_columns(raw.get("columns") or {}, file, prefix)
    drop = _parse_drop(raw.get("drop") or [], file, prefix)
    _check_renamed_and_dropped(columns, drop, file, prefix)
    date_format = raw.get("date_format")
    if date_format is not None and not _is_date_format(date_format):
        raise _structure(file, f"'{prefix}date_format' must be a date pattern such as "
                         f"\"%d/%m/%Y\" or \"%m/%d/%Y\" (directives {' '.join(DATE_DIRECTIVES)}), "
                         f"not {quote(date_format)}", column="booking_date")
    decimal = raw.get("decimal")
    if decimal is not None and decimal not in (",", "."):
        raise _structure(file, f"'{prefix}decimal' must be \",\" or \".\", not {quote(decimal)}",
                         column="amount")
    return TableMapping(columns=columns, drop=drop, date_format=date_format, decimal=decimal)


DATE_DIRECTIVES = ("%Y", "%y", "%m", "%d", "%H", "%M", "%S")


def _is_date_format(value: Any) -> bool:
    """A strftime-style pattern with a year, a month and a day and no other directive."""
    if not isinstance(value, str) or not value.strip():
        return False
    directives = re.findall(r"%.", value)
    rest = re.sub(r"%.", "", value)
    return (all(d in DATE_DIRECTIVES for d in directives) and "%m" in directives
            and "%d" in directives and ("%Y" in directives or "%y" in directives)
            and len(directives) == len(set(directives)) and "%" not in rest
            and not re.search(r"[A-Za-z0-9]", rest))


# --- applying ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Rules:
    """The merged recode labels of one column: normalised label -> value."""

    lookup: dict[Any, Any]
    explicit: bool  # some recode key (not only dont_know) applies to the column


def apply_mapping(df: pd.DataFrame, mapping: Mapping | str | Path,
                  codebook: Codebook | None = None) -> pd.DataFrame:
    """Return a new frame with the mapping's drops, renames and recodes applied.

    Rows are not selected here (see :func:`helpers.selection.select_rows`): the result has the
    input's rows, in order, with its index.  ``codebook`` (default :func:`load_codebook`)
    resolves construct and scale keys of ``recode`` and tells items from fields.
    """
    if not isinstance(mapping, Mapping):
        mapping = load_mapping(mapping)
    cb = codebook or load_codebook()
    renames = dict(mapping.columns)
    after = [renames.get(str(c), c) for c in df.columns if str(c) not in mapping.drop]
    issues = _source_issues(df, mapping)
    rules, rule_issues = _column_rules([str(c) for c in after], mapping, cb)
    if issues or rule_issues:
        raise DataError(issues=issues + rule_issues)
    out = df.drop(columns=[c for c in mapping.drop if c in df]).rename(columns=renames)
    _check_targets(out, mapping)
    attrs = _renamed_attrs(df.attrs, renames, set(mapping.drop))
    unmapped: dict[str, list[Any]] = {}
    dont_know: dict[str, list[int]] = {}
    missing_cells = attrs.pop("missing_cells", None)  # consumed here (it can be large)
    missing_cells = missing_cells if isinstance(missing_cells, dict) else {}
    for column in out.columns:
        result = _recode_column(out[column], str(column), rules.get(str(column)), mapping,
                                attrs["value_labels"], cb, missing_cells.get(column))
        if result is not None:
            out[column], unmatched, marked = result
            if unmatched:
                unmapped[str(column)] = unmatched
            if marked:
                dont_know[str(column)] = marked
    attrs["unmapped_labels"] = unmapped
    attrs["dont_know"] = dont_know
    if mapping.path:
        attrs["mapping"] = mapping.path
    out.attrs = attrs
    return out


def _source_issues(df: pd.DataFrame, mapping: Mapping) -> list[Issue]:
    """Every source column in ``columns`` must exist in the data."""
    source = df.attrs.get("source", "the data")
    return [Issue(rule="mapping-column-missing", file=mapping.path, column=column,
                  message=f"'columns' names source column '{column}', which is not in {source}",
                  hint=similar_columns(column, df.columns))
            for column in mapping.columns if column not in df.columns]


def similar_columns(column: str, columns: Iterable[Any], what: str = "the data") -> str:
    """Hint naming columns that look like a misspelt name, and the columns that were found."""
    names = [str(c) for c in columns]
    close = difflib.get_close_matches(column, names, n=3, cutoff=0.6)
    if not close:  # "Firm ID" for firm_id: compare case-insensitively too
        folded = {n.casefold(): n for n in names}
        close = [folded[m] for m in difflib.get_close_matches(column.casefold(), list(folded),
                                                              n=3, cutoff=0.6)]
    shown = ", ".join(names[:MAX_COLUMNS_LISTED])
    more = f", ... ({len(names)} in all)" if len(names) > MAX_COLUMNS_LISTED else ""
    found = f"{what} have the columns {shown}{more}" if names else f"{what} have no columns"
    if close:
        return (f"did you mean {' or '.join(repr(c) for c in close)}? Names are "
                f"case-sensitive; {found}")
    return f"{found}; fix the name or remove the entry"


def missing_columns_error(missing: list[str], found: list[Any], file: str, what: str,
                          required: tuple[str, ...]) -> DataError:
    """DataError for required columns absent from a budgets or ledger table: it lists the
    columns that were found, suggests close matches and shows the mapping entry that fixes it."""
    names = [str(c) for c in found]
    folded = {n.casefold(): n for n in names}
    guesses = []
    for column in missing:
        close = difflib.get_close_matches(column, list(folded), n=1, cutoff=0.6)
        if close:
            guesses.append(f"{column}: did you mean '{folded[close[0]]}'?")
    shown = ", ".join(names[:MAX_COLUMNS_LISTED]) + (" ..." if len(names) > MAX_COLUMNS_LISTED
                                                      else "")
    example = f"{names[0] if names else 'Jahr'}: {missing[0]}"
    return DataError(
        f"missing required {what} column(s) {', '.join(missing)}; the file has the columns "
        f"{shown}", file=file, column=missing[0], rule="missing-column",
        hint=" ".join([*guesses, f"rename the columns in the mapping file, e.g. "
                                  f"{what}: {{columns: {{{example}}}}} (a {what} table needs "
                                  f"{', '.join(required)})"]))


def _column_rules(columns: list[str], mapping: Mapping, cb: Codebook
                  ) -> tuple[dict[str, _Rules], list[Issue]]:
    """Resolve every recode key (and ``dont_know``) to columns and merge their labels.

    Levels, weakest first: -1 ``dont_know``, 0 scale, 1 construct, 2 list, 3 column.
    """
    present = set(columns)
    layers: dict[str, dict[int, tuple[str, dict[Any, Any]]]] = {}
    issues: list[Issue] = []

    def add(column: str, level: int, key: str, labels: dict[Any, Any]) -> None:
        slot = layers.setdefault(column, {})
        if level in slot and slot[level][0] != key:
            issues.append(Issue(
                rule="mapping-recode-overlap", file=mapping.path, column=column,
                message=f"column '{column}' is recoded by both '{slot[level][0]}' and '{key}'",
                hint="name each column in one list only (a column key of its own wins over "
                     "a list)"))
            return
        slot[level] = (key, labels)

    if mapping.dont_know:
        labels = {value: DONT_KNOW for value in mapping.dont_know}
        for column in columns:
            if column in cb.items:
                add(column, -1, "dont_know", labels)
    for key, labels in mapping.recode.items():
        level, targets = _recode_targets(key, columns, present, mapping, cb, issues)
        for column in targets:
            add(column, level, key, labels)
    rules: dict[str, _Rules] = {}
    for column, slot in layers.items():
        merged: dict[Any, Any] = {}
        for level in sorted(slot):
            merged.update({_key(label): value for label, value in slot[level][1].items()})
        if column not in cb.items and any(v is DONT_KNOW for v in merged.values()):
            keys = [k for _, (k, labels) in sorted(slot.items()) if DONT_KNOW in labels.values()]
            issues.append(Issue(
                rule="mapping-dont-know-field", file=mapping.path, column=column,
                message=f"recode '{keys[0]}' maps a label of '{column}' to dont_know, which is "
                        "only for items of the codebook",
                hint="map the label to null instead (a missing value)"))
        rules[column] = _Rules(lookup=merged, explicit=any(level >= 0 for level in slot))
    return rules, issues


def _recode_targets(key: str, columns: list[str], present: set[str], mapping: Mapping,
                    cb: Codebook, issues: list[Issue]) -> tuple[int, list[str]]:
    """(level, columns) of one recode key; problems are appended to ``issues``."""
    if key in present:
        return 3, [key]
    parts = [p.strip() for p in key.split(",") if p.strip()]
    if len(parts) > 1 or "," in key:
        targets: list[str] = []
        for part in parts:
            found = part if part in present else None
            members = [found] if found else _group_members(part, columns, cb)
            if members is None:
                issues.append(_unknown_recode_key(part, key, columns, mapping, cb))
            elif not members:
                issues.append(_empty_group(part, mapping, cb))
            targets += [m for m in members or [] if m not in targets]
        return 2, targets
    members = _group_members(key, columns, cb)
    if members is None:
        issues.append(_unknown_recode_key(key, key, columns, mapping, cb))
        return 3, []
    if not members:
        issues.append(_empty_group(key, mapping, cb))
    return (1 if key in cb.constructs else 0), members


def _group_members(name: str, columns: list[str], cb: Codebook) -> list[str] | None:
    """Items in the data of a construct or a scale; None when ``name`` is neither."""
    if name in cb.constructs:
        wanted = set(cb.constructs[name].items)
    elif name in cb.scales:
        wanted = {i.id for i in cb.items.values() if i.scale.id == name}
    else:
        return None
    return [c for c in columns if c in wanted]


def _unknown_recode_key(name: str, key: str, columns: list[str], mapping: Mapping,
                        cb: Codebook) -> Issue:
    """A recode key that is no column, construct or scale."""
    source = f" ('{name}' is renamed to '{mapping.columns[name]}')" if name in mapping.columns else ""
    where = f"'recode' key '{key}' names '{name}'" if name != key else f"'recode' names '{name}'"
    close = difflib.get_close_matches(name, [*columns, *cb.constructs, *cb.scales], n=3,
                                      cutoff=0.6)
    guess = f"did you mean {' or '.join(repr(c) for c in close)}? " if close else ""
    return Issue(rule="mapping-column-missing", file=mapping.path, column=name,
                 message=f"{where}, which is not a column of the data after renaming{source}, "
                         "a construct or a scale of the codebook",
                 hint=f"{guess}recode keys are TARGET column names, construct ids, scale ids "
                      "or comma-separated lists of them")


def _empty_group(name: str, mapping: Mapping, cb: Codebook) -> Issue:
    """A construct or scale key none of whose items is in the data."""
    kind = "construct" if name in cb.constructs else "scale"
    return Issue(rule="mapping-column-missing", file=mapping.path, column=name,
                 message=f"'recode' names the {kind} '{name}', but none of its items is in the "
                         "data after renaming",
                 hint="rename the source columns to the codebook's item ids in 'columns', or "
                      "remove the entry")


def _check_targets(out: pd.DataFrame, mapping: Mapping) -> None:
    """A renamed column must not collide with a column that kept its name."""
    duplicated = sorted({str(c) for c in out.columns[out.columns.duplicated()]})
    if duplicated:
        raise DataError(f"renaming creates duplicate column '{duplicated[0]}'",
                        file=mapping.path, column=duplicated[0], rule="mapping-duplicate-target",
                        hint="the data already have a column with that name; drop or rename it")


def _renamed_attrs(attrs: dict[str, Any], renames: dict[str, str],
                   dropped: set[str]) -> dict[str, Any]:
    """A deep copy of attrs whose per-column entries follow renames and drops."""
    out = copy.deepcopy(attrs)
    for key in PER_COLUMN_ATTRS:
        if isinstance(out.get(key), dict):
            out[key] = {renames.get(c, c): v for c, v in out[key].items() if c not in dropped}
    if not isinstance(out.get("value_labels"), dict):  # absent, or set by hand to something else
        out["value_labels"] = {}
    return out


def labels_by_code(labels: Any) -> dict[Any, Any]:
    """Normalised code -> label of one column's value labels (of any shape; {} if unusable)."""
    if not isinstance(labels, dict):
        return {}
    return {_key(code): label for code, label in labels.items()
            if isinstance(label, Hashable) and not _is_missing(label)}


def _recode_column(series: pd.Series, column: str, rules: _Rules | None, mapping: Mapping,
                   value_labels: dict[str, Any], cb: Codebook, missing_cells: Any = None
                   ) -> tuple[pd.Series, list[Any], list[int]] | None:
    """Recode one column, or None when no rule applies to it.

    ``missing_cells`` ({code: positions}, from :func:`helpers.io.read_raw` for SPSS/Stata) are
    the cells that were user-missing: still missing, but counted as "don't know" when their
    code or its value label is recoded to ``dont_know``.
    """
    labels = value_labels.get(column)
    labels = labels if isinstance(labels, dict) else {}
    by_code = labels_by_code(labels)
    lookup = rules.lookup if rules else {}
    explicit = bool(rules and rules.explicit)
    field_def = cb.fields.get(column)
    if column == ROLE_COLUMN:
        return _recode(series, lookup, by_code, {}, _role_fallback(labels))
    if mapping.value_labels and by_code and field_def is not None and field_def.type == "category":
        # a coded category (country 1 = "Deutschland") becomes its label, for recode/validation
        return _recode(series, lookup, by_code, {}, lambda value: by_code.get(_key(value)))
    label_codes: dict[Any, Any] = {}
    if mapping.value_labels and labels:
        label_codes = {_key(label): code for code, label in labels.items()
                       if isinstance(label, Hashable)}
    if not lookup and not label_codes:
        return None
    result = _recode(series, lookup, by_code, label_codes, None if explicit else _number_or_none)
    return (*result[:2], sorted(set(result[2]) | set(
        _user_missing_dont_know(missing_cells, lookup, by_code, len(series)))))


def _user_missing_dont_know(missing_cells: Any, lookup: dict[Any, Any], by_code: dict[Any, Any],
                            n: int) -> list[int]:
    """Positions of user-missing cells whose code (or its label) is recoded to dont_know."""
    if not isinstance(missing_cells, dict) or not lookup:
        return []
    found: list[int] = []
    for code, positions in missing_cells.items():
        key = _key(code)
        if key not in lookup and key in by_code:
            key = _key(by_code[key])
        if lookup.get(key) is DONT_KNOW and isinstance(positions, list):
            found += [p for p in positions if isinstance(p, int) and 0 <= p < n]
    return found


def _recode(series: pd.Series, lookup: dict[Any, Any], by_code: dict[Any, Any],
            label_codes: dict[Any, Any], fallback: Callable[[Any], Any] | None
            ) -> tuple[pd.Series, list[Any], list[int]]:
    """Replace each value, first match wins: a recode label equal to the value; a recode label
    equal to the value's value label; a recode target (already recoded); a value label (turned
    into its code, when ``label_codes`` is given, i.e. ``value_labels: true``; labelled codes
    then stay as they are); ``fallback``.  Collect the rest and the positions of dont_know
    answers."""
    targets = {_key(v): v for v in lookup.values() if v is not None and v is not DONT_KNOW}
    values: list[Any] = []
    unmatched: set[Any] = set()
    marked: list[int] = []
    for position, value in enumerate(series):
        if _is_missing(value):
            values.append(np.nan)
            continue
        key = _key(value)
        if key not in lookup and key in by_code and _key(by_code[key]) in lookup:
            key = _key(by_code[key])  # a coded answer whose label is recoded
        if key in lookup:
            target = lookup[key]
            if target is DONT_KNOW:
                marked.append(position)
            values.append(np.nan if target is None or target is DONT_KNOW else target)
        elif key in targets:
            values.append(targets[key])
        elif key in label_codes:
            values.append(label_codes[key])
        elif label_codes and key in by_code:  # a labelled code is a known answer
            values.append(value)
        elif fallback is not None and (found := fallback(value)) is not None:
            values.append(found)
        else:
            values.append(value)
            unmatched.add(value.item() if isinstance(value, np.generic) else value)
    result = pd.Series(values, index=series.index, name=series.name, dtype=object)
    if result.dropna().map(_is_number).all():
        try:
            result = pd.to_numeric(result)
        except OverflowError:  # an integer beyond the float range: keep the values as they are
            pass
    return result, sorted(unmatched, key=_sort_key), marked


def _role_fallback(labels: dict[Any, str]) -> Callable[[Any], str | None]:
    """Role resolver: a coded value becomes its label, then the label its role."""
    by_code = labels_by_code(labels)

    def resolve(value: Any) -> str | None:
        return _role_of(by_code.get(_key(value), value))

    return resolve


def _number_or_none(value: Any) -> Any:
    """The value itself when it is a number (a code needs no value label), else None."""
    return value if _is_number(value) else None


def _is_missing(value: Any) -> bool:
    """True for None and NaN-like scalars."""
    if value is None:
        return True
    if isinstance(value, str):
        return False
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # list-like cell
        return False


def _is_number(value: Any) -> bool:
    """True for int/float values (not bools)."""
    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(
        value, bool | np.bool_)


def value_key(value: Any) -> tuple[str, Any]:
    """Comparison key: numbers (also numeric text) by value, text by casefolded words.

    Mapping labels, ``dont_know`` values and ``exclude`` values are all matched with it.
    """
    if _is_number(value):
        return ("number", _float(value))
    text = " ".join(str(value).split())
    try:
        return ("number", float(text))
    except ValueError:
        return ("text", text.casefold())
    except OverflowError:
        return ("text", text.casefold())


_key = value_key


def _sort_key(value: Any) -> tuple[int, float, str]:
    """Numbers first (numerically), then text."""
    return (0, _float(value), "") if _is_number(value) else (1, 0.0, str(value))


def _float(value: Any) -> Any:
    """A number as float; an integer beyond the float range stays an int (it equals no float)."""
    try:
        return float(value)
    except OverflowError:
        return value


def matches(values: Sequence[Any], candidates: Iterable[Any], labels: Any = None) -> np.ndarray:
    """Boolean mask: cells equal to one of ``candidates`` (as recode labels match: by value, or
    through the cell's value label in ``labels``); an empty cell matches ``None`` only."""
    wanted = {_key(c) for c in candidates if c is not None}
    want_missing = any(c is None for c in candidates)
    by_code = labels_by_code(labels)
    out = np.zeros(len(values), dtype=bool)
    for position, value in enumerate(values):
        if _is_missing(value):
            out[position] = want_missing
            continue
        key = _key(value)
        out[position] = key in wanted or (key in by_code and _key(by_code[key]) in wanted)
    return out


# --- roles ------------------------------------------------------------------------------------


def _role_key(label: str) -> str:
    """Letters and digits only, casefolded: "IT-Leiter " and "it leiter" compare equal."""
    return re.sub(r"[\W_]+", "", label.casefold())


_ROLE_BY_KEY = {_role_key(label): role for role, labels in ROLE_LABELS.items() for label in labels}


def _role_of(value: Any) -> str | None:
    """CMO/CIO for a known role label (also "Chief Marketing Officer (CMO)"), else None."""
    if not isinstance(value, str):
        return None
    for text in (value, re.sub(r"\(.*?\)", " ", value), *re.findall(r"\((.*?)\)", value)):
        role = _ROLE_BY_KEY.get(_role_key(text))
        if role:
            return role
    return None


def normalise_role(series: pd.Series) -> pd.Series:
    """Map mixed-case, multilingual role labels to CMO/CIO; leave unknown values unchanged.

    Unknown values (e.g. "CTO", which is not a CIO) are kept so that validation reports them.
    """
    return series.map(lambda value: _role_of(value) or value).astype(object)
