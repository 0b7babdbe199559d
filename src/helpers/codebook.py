"""The codebook (``data/codebook.yaml``): items, constructs, scales, fields and their labels.

Everything downstream — validation schemas, scale scoring, benchmark matching and the labels on
tables and plots in EN/DE/NL/DA — is derived from the objects here, so an item is typed exactly once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from helpers import paths
from helpers.errors import DataError, quote
from helpers.i18n import N_
from helpers.safe_yaml import load_yaml

FIELD_TYPES = {"string", "category", "integer", "number"}
SCALE_TYPES = {"likert", "binary"}
CONSTRUCT_KINDS = {"indicator", "driver", "outcome"}
DISCONNECT_DIRECTIONS = {"higher_is_worse", "higher_is_better"}


@dataclass(frozen=True)
class Scale:
    """A response scale: range, the values that count as agreeing, and value labels per language."""

    id: str
    type: str
    min: int
    max: int
    top_box: tuple[int, ...]
    labels: dict[str, dict[int, str]]

    @property
    def values(self) -> tuple[int, ...]:
        return tuple(range(self.min, self.max + 1))


@dataclass(frozen=True)
class Field:
    """A respondent or firm field (ids, role, segments, paradata, personal data)."""

    name: str
    type: str
    required: bool = False
    unique: bool = False
    values: tuple[str, ...] | None = None
    ordered: bool = False
    min: float | None = None
    max: float | None = None
    pii: bool = False
    free_text: bool = False
    label: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Item:
    """One survey question answered on a codebook scale."""

    id: str
    construct: str
    scale: Scale
    roles: tuple[str, ...]
    reverse: bool
    wording: dict[str, str]
    benchmark: dict[str, str] = field(default_factory=dict)
    pii: bool = False

    def score(self, value: Any) -> Any:
        """Reverse-key a value (or a pandas Series) onto the scale: min + max - value."""
        return self.scale.min + self.scale.max - value if self.reverse else value


@dataclass(frozen=True)
class Construct:
    """A latent concept measured by one or more items."""

    id: str
    kind: str
    label: dict[str, str]
    items: tuple[str, ...]
    disconnect: str | None = None
    source: str | None = None


@dataclass(frozen=True)
class Codebook:
    """The parsed codebook. Build with :func:`load_codebook`."""

    path: Path
    version: int
    languages: tuple[str, ...]
    roles: tuple[str, ...]
    scales: dict[str, Scale]
    fields: dict[str, Field]
    constructs: dict[str, Construct]
    items: dict[str, Item]

    # ----------------------------------------------------------------- selections
    def item_ids(self, construct: str | None = None, role: str | None = None) -> list[str]:
        """Item ids in codebook order, optionally those of one construct and/or asked of one role."""
        return [
            i.id
            for i in self.items.values()
            if (construct is None or i.construct == construct) and (role is None or role in i.roles)
        ]

    def constructs_of_kind(self, kind: str) -> list[str]:
        """Construct ids of one kind (``indicator``, ``driver`` or ``outcome``)."""
        return [c.id for c in self.constructs.values() if c.kind == kind]

    # ----------------------------------------------------------------- what a survey asked
    # A survey rarely asks every construct, and shortened scales leave items out. An item counts
    # as *asked* in a frame when the frame has its column and at least one answer in it (a column
    # that is entirely empty — e.g. a construct added in a later wave, seen in an earlier wave's
    # segment — was not asked there). Reports take their constructs from these methods rather
    # than from hard-coded lists.
    def _known(self, names: Iterable[str], what: str) -> list[str]:
        names = [names] if isinstance(names, str) else list(names)
        pool = self.constructs if what == "construct" else self.items
        unknown = [n for n in names if n not in pool]
        if unknown:
            raise KeyError(f"not {what}s of {self.path.name}: {', '.join(map(str, unknown))} "
                           f"(known {what}s: {', '.join(pool)})")
        return names

    def items_present(self, df: Any, construct: str | None = None,
                      among: Iterable[str] | None = None) -> list[str]:
        """Items asked in ``df`` (a column with at least one answer), in codebook order: of one
        ``construct``, or among the item ids ``among``, or all."""
        if construct is not None:
            candidates = list(self.constructs[self._known([construct], "construct")[0]].items)
        elif among is not None:
            candidates = self._known(among, "item")
        else:
            candidates = list(self.items)
        columns = set(getattr(df, "columns", ()))
        return [i for i in candidates if i in columns and bool(df[i].notna().any())]

    def items_absent(self, df: Any, construct: str) -> list[str]:
        """Items of ``construct`` not asked in ``df`` (no column, or no answer in it)."""
        present = set(self.items_present(df, construct))
        return [i for i in self.constructs[construct].items if i not in present]

    def needs_items(self, df: Any, items: Iterable[str], language: str = "EN") -> str | None:
        """None when every one of ``items`` was asked in ``df``; else what a section that uses
        them needs, in words ("item fail_1 (failed or late joint project), which the survey
        did not ask"), for :func:`helpers.tables.not_applicable` and model notes."""
        items = list(items)
        present = set(self.items_present(df, among=items))
        absent = [i for i in items if i not in present]
        if not absent:
            return None
        named = ", ".join(f"{i} ({self.label(self.items[i].construct, language).lower()})"
                          for i in absent)
        return f"item{'s' if len(absent) > 1 else ''} {named}, which the survey did not ask"

    def _candidates(self, kind: str | None, among: Iterable[str] | None) -> list[str]:
        """Construct ids in codebook order: those named in ``among``, else those of ``kind``."""
        if kind is not None and kind not in CONSTRUCT_KINDS:
            raise ValueError(f"kind must be one of {sorted(CONSTRUCT_KINDS)}, got {kind!r}")
        if among is not None:
            wanted = set(self._known(among, "construct"))
            return [c for c in self.constructs if c in wanted]
        return [c for c, con in self.constructs.items() if kind is None or con.kind == kind]

    def constructs_present(self, df: Any, kind: str | None = None,
                           among: Iterable[str] | None = None) -> list[str]:
        """Constructs with at least one item asked in ``df``, in codebook order.

        ``kind`` limits them to ``indicator``, ``driver`` or ``outcome``; ``among`` (a report
        parameter such as ``drivers``; ``None`` means every construct of ``kind``) names the
        constructs to consider instead.
        """
        return [c for c in self._candidates(kind, among) if self.items_present(df, c)]

    def constructs_absent(self, df: Any, kind: str | None = None,
                          among: Iterable[str] | None = None) -> list[str]:
        """The constructs :meth:`constructs_present` leaves out: none of their items asked."""
        return [c for c in self._candidates(kind, among) if not self.items_present(df, c)]

    def is_binary(self, construct: str) -> bool:
        """Whether every item of a construct is answered yes/no (a share, not a scale score)."""
        return all(self.items[i].scale.type == "binary" for i in self.constructs[construct].items)

    @property
    def required_fields(self) -> list[str]:
        return [f.name for f in self.fields.values() if f.required]

    @property
    def pii_fields(self) -> list[str]:
        """Columns that hold personal data (names, e-mails, IPs, free text)."""
        return [f.name for f in self.fields.values() if f.pii] + [
            i.id for i in self.items.values() if i.pii
        ]

    @property
    def segment_fields(self) -> list[str]:
        """Fields a report can be split by."""
        return ["country", "industry", "size_band", "wave", "role"]

    # ----------------------------------------------------------------- labels
    def _lang(self, language: str) -> str:
        lang = language.upper()
        if lang not in self.languages:
            raise ValueError(f"language {language!r} is not one of {', '.join(self.languages)}")
        return lang

    def label(self, key: str, language: str = "EN") -> str:
        """Human label for an item (its wording), a construct or a field, in ``language``."""
        lang = self._lang(language)
        if key in self.items:
            return self.items[key].wording[lang]
        if key in self.constructs:
            return self.constructs[key].label[lang]
        if key in self.fields:
            return self.fields[key].label.get(lang, key)
        raise KeyError(f"{key!r} is neither an item, a construct nor a field of {self.path}")

    def short_label(self, item_id: str, language: str = "EN", width: int = 60, *,
                    with_id: bool = False) -> str:
        """The item wording cut to ``width`` characters for axis labels and table cells — a
        label, not the variable name (``with_id=True`` prefixes the id, for analysts' own
        output)."""
        text = self.label(item_id, language)
        if len(text) > width:
            text = text[: width - 1].rstrip() + "…"
        return f"{item_id}: {text}" if with_id else text

    def item_number(self, item_id: str) -> int:
        """An item's place among its construct's items in the codebook (1, 2, …)."""
        return list(self.constructs[self.items[item_id].construct].items).index(item_id) + 1

    def item_ref(self, item_id: str, language: str | None = None, *,
                 construct: bool = True) -> str:
        """An item as a sentence names it: "Mutual trust, item 3" (its place among its
        construct's items in the codebook), or "item 3" where the construct is already said —
        never the variable name ``trust_3``. An id that is not a codebook item (a variable of an
        analyst's own model syntax) is returned as it is."""
        from helpers import i18n

        if item_id not in self.items:
            return item_id
        cid, number = self.items[item_id].construct, self.item_number(item_id)
        lang = i18n.normalise(language or i18n.current())
        if not construct:
            return i18n.gettext(ITEM_N, lang).format(number=number)
        return i18n.gettext(CONSTRUCT_ITEM_N, lang).format(construct=self.label(cid, lang),
                                                            number=number)

    def value_labels(self, item_id: str, language: str = "EN") -> dict[int, str]:
        """Response-option labels of an item's scale in ``language``."""
        return dict(self.items[item_id].scale.labels[self._lang(language)])

    def as_ordered(self, values: Any, item_id: str, language: str = "EN") -> Any:
        """An item's codes as an ordered categorical of its response labels (for ordered models,
        whose cut-points are then named after the label boundaries, e.g. ``Disagree|Neither…``)."""
        import pandas as pd

        labels = self.value_labels(item_id, language)
        series = pd.Series(values)
        return pd.Series(pd.Categorical(series.map(labels), categories=list(labels.values()),
                                        ordered=True), index=series.index, name=item_id)


#: How sentences name an item (:meth:`Codebook.item_ref`).
ITEM_N = N_("item {number}")
CONSTRUCT_ITEM_N = N_("{construct}, item {number}")


@lru_cache(maxsize=1)
def _default() -> Codebook:
    return load_codebook()


def item_ref(item_id: str, language: str | None = None, *, construct: bool = True) -> str:
    """:meth:`Codebook.item_ref` with the project's codebook (``data/codebook.yaml``)."""
    try:
        return _default().item_ref(item_id, language, construct=construct)
    except (OSError, DataError):
        return item_id


def item_refs(item_ids: Iterable[str], language: str | None = None, *,
              construct: bool = True) -> str:
    """Several items named for a sentence, separated by semicolons."""
    return "; ".join(item_ref(i, language, construct=construct) for i in item_ids)


# --------------------------------------------------------------------------- loading
def _fail(path: Path, where: str, rule: str, message: str) -> DataError:
    return DataError(message, file=str(path), column=where, rule=rule,
                     hint="fix data/codebook.yaml; see data/README.md for its format")


def _parse_scales(path: Path, raw: dict, languages: tuple[str, ...]) -> dict[str, Scale]:
    scales = {}
    for sid, s in (raw or {}).items():
        if s.get("type") not in SCALE_TYPES:
            raise _fail(path, f"scales.{sid}", "codebook-scale-type",
                        f"type must be one of {sorted(SCALE_TYPES)}")
        labels = {lang: {int(k): str(v) for k, v in s["labels"][lang].items()}
                  for lang in languages}
        lo, hi = int(s["min"]), int(s["max"])
        top = tuple(int(v) for v in s["top_box"])
        if not all(lo <= v <= hi for v in top):
            raise _fail(path, f"scales.{sid}", "codebook-top-box", "top_box outside the range")
        scales[sid] = Scale(sid, s["type"], lo, hi, top, labels)
    return scales


def _parse_fields(path: Path, raw: dict) -> dict[str, Field]:
    fields = {}
    for name, f in (raw or {}).items():
        if f.get("type") not in FIELD_TYPES:
            raise _fail(path, f"fields.{name}", "codebook-field-type",
                        f"type must be one of {sorted(FIELD_TYPES)}")
        fields[name] = Field(
            name=name, type=f["type"], required=bool(f.get("required", False)),
            unique=bool(f.get("unique", False)),
            values=tuple(str(v) for v in f["values"]) if "values" in f else None,
            ordered=bool(f.get("ordered", False)), min=f.get("min"), max=f.get("max"),
            pii=bool(f.get("pii", False)), free_text=bool(f.get("free_text", False)),
            label={k: str(v) for k, v in (f.get("label") or {}).items()},
        )
    return fields


def _parse_items(path: Path, raw: list, scales: dict[str, Scale], roles: tuple[str, ...],
                 languages: tuple[str, ...], constructs: dict) -> dict[str, Item]:
    items: dict[str, Item] = {}
    for n, it in enumerate(raw or [], start=1):
        iid = it.get("id")
        where = f"items[{n}] ({iid})"
        if not iid or iid in items:
            raise _fail(path, where, "codebook-item-id", "every item needs a unique id")
        if it.get("construct") not in constructs:
            raise _fail(path, where, "codebook-construct", f"unknown construct {quote(it.get('construct'))}")
        if it.get("scale") not in scales:
            raise _fail(path, where, "codebook-scale", f"unknown scale {quote(it.get('scale'))}")
        item_roles = tuple(it.get("roles") or ())
        if not item_roles or not set(item_roles) <= set(roles):
            raise _fail(path, where, "codebook-roles", f"roles must be a non-empty subset of {roles}")
        missing = [lang for lang in languages if not (it.get("wording") or {}).get(lang)]
        if missing:
            raise _fail(path, where, "codebook-wording", f"wording missing in {', '.join(missing)}")
        bench = {str(k): str(v) for k, v in (it.get("benchmark") or {}).items()}
        if not set(bench) <= set(roles) | {"all"}:
            raise _fail(path, where, "codebook-benchmark", "benchmark keys must be roles or 'all'")
        items[iid] = Item(id=iid, construct=it["construct"], scale=scales[it["scale"]],
                          roles=item_roles, reverse=bool(it.get("reverse", False)),
                          wording=dict(it["wording"]), benchmark=bench,
                          pii=bool(it.get("pii", False)))
    return items


def parse_codebook(raw: dict, path: Path) -> Codebook:
    """Build and check a :class:`Codebook` from its parsed YAML mapping."""
    languages = tuple(raw.get("languages") or ("EN",))
    roles = tuple(raw.get("roles") or ())
    scales = _parse_scales(path, raw.get("scales"), languages)
    fields = _parse_fields(path, raw.get("fields"))
    craw = raw.get("constructs") or {}
    items = _parse_items(path, raw.get("items"), scales, roles, languages, craw)
    constructs = {}
    for cid, c in craw.items():
        if c.get("kind") not in CONSTRUCT_KINDS:
            raise _fail(path, f"constructs.{cid}", "codebook-kind",
                        f"kind must be one of {sorted(CONSTRUCT_KINDS)}")
        direction = c.get("disconnect")
        if c["kind"] == "indicator" and direction not in DISCONNECT_DIRECTIONS:
            raise _fail(path, f"constructs.{cid}", "codebook-disconnect",
                        f"indicators need disconnect: one of {sorted(DISCONNECT_DIRECTIONS)}")
        members = tuple(i.id for i in items.values() if i.construct == cid)
        if not members:
            raise _fail(path, f"constructs.{cid}", "codebook-empty-construct", "construct has no items")
        constructs[cid] = Construct(id=cid, kind=c["kind"], label=dict(c["label"]), items=members,
                                    disconnect=direction, source=c.get("source"))
    clash = set(fields) & set(items)
    if clash:
        raise _fail(path, ", ".join(sorted(clash)), "codebook-name-clash",
                    "a name is used both as a field and as an item")
    return Codebook(path=path, version=int(raw.get("version", 1)), languages=languages,
                    roles=roles, scales=scales, fields=fields, constructs=constructs, items=items)


@lru_cache(maxsize=8)
def _load_cached(path: Path, mtime: float) -> Codebook:
    raw = load_yaml(path, rule="codebook-yaml", what="codebook")  # alias and size limits
    if not isinstance(raw, dict):
        raise DataError("the codebook must be a YAML mapping", file=str(path), rule="codebook-yaml")
    try:
        return parse_codebook(raw, path)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        if isinstance(exc, DataError):
            raise
        raise DataError(f"malformed codebook entry: {quote(exc, 200)}", file=str(path),
                        rule="codebook-structure") from exc


def load_codebook(path: str | Path | None = None) -> Codebook:
    """Load (and cache, until the file changes) the codebook; default ``data/codebook.yaml``."""
    p = Path(path) if path is not None else paths.CODEBOOK
    if not p.exists():
        raise DataError("codebook not found", file=str(p), rule="file-not-found")
    p = p.resolve()
    return _load_cached(p, p.stat().st_mtime)
