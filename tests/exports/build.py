"""Build realistic survey exports, as strangers' survey tools write them, with their known truth.

Each builder starts from the synthetic sample (:func:`helpers.simulate.write_sample`, a small
number of firms) and reshapes it the way a survey tool and a researcher would: the tool's own
column names and answer labels, metadata columns, junk rows that have to be excluded, shortened
scales, unasked constructs, "don't know" answers, a budget sheet from controlling. The data is
never made easier than the sample: every respondent keeps the sample's answers (speeders and
straight-liners included).

Every builder writes into ``<root>/data/raw/<name>/`` (the export, a ``mapping.yaml`` written
the way a user would from ``data/README.md``, budgets/ledger where the study has them, and
``truth.json``) and returns an :class:`Export`: the ``make data`` arguments and the
:class:`Truth` a test checks the processed data and the reports against.

Run ``cd tests && ../.venv/bin/python -m exports.build --out /tmp/exports`` to look at them.
"""

from __future__ import annotations

import argparse
import json
import string
import tempfile
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from helpers import simulate
from helpers.codebook import Codebook, load_codebook

FIELDS = ("respondent_id", "firm_id", "role", "country", "industry", "size_band", "wave",
          "language", "duration_seconds")


# --------------------------------------------------------------------------- what a test checks
@dataclass
class Exclusion:
    """One exclusion reason the pipeline must count (and the data-quality report must show)."""

    key: str        # short id used in tests
    pattern: str    # regex (case-insensitive) that finds the reason in a report or table
    count: int
    reason: str | None = None  # the reason text as the mapping wrote it (None: a default rule)


@dataclass
class Truth:
    """What the processed data and the reports must say about one export."""

    name: str
    rows_read: int                 # data rows in the survey file (header rows not counted)
    expected: pd.DataFrame         # one row per valid response; RAW ids; codebook columns
    exclusions: list[Exclusion]
    dont_know: pd.DataFrame        # respondent_id (raw), item: cells answered "don't know"
    absent_items: list[str]        # codebook items the survey did not ask
    personal: list[str]            # names, e-mails, IPs, comments: must appear in no output
    raw_ids: list[str]             # response and firm ids of the export: pseudonymised in outputs
    unfinished: str | None = None  # "exclude" / "keep" (Qualtrics), None when not applicable
    unfinished_kept: int = 0       # unfinished responses kept among the valid ones
    wave_years: dict[int, int] | None = None
    budgets: pd.DataFrame | None = None   # expected processed budgets (raw firm ids)
    ledger: bool = False

    @property
    def n_valid(self) -> int:
        return len(self.expected)

    @property
    def waves(self) -> list[int]:
        return sorted(int(w) for w in self.expected["wave"].unique())

    def to_json(self) -> dict[str, Any]:
        """A readable summary (written beside the export as truth.json)."""
        return {
            "name": self.name, "rows_read": self.rows_read, "n_valid": self.n_valid,
            "exclusions": [vars(e) for e in self.exclusions],
            "dont_know_cells": len(self.dont_know), "absent_items": self.absent_items,
            "unfinished": self.unfinished, "unfinished_kept": self.unfinished_kept,
            "wave_years": self.wave_years, "waves": self.waves,
            "budget_rows": None if self.budgets is None else len(self.budgets),
            "ledger": self.ledger, "personal_values": len(self.personal),
        }


@dataclass
class Export:
    """A written export: where it is, the README's ``make data`` arguments and the truth."""

    name: str
    folder: Path
    make_args: dict[str, str]      # SURVEY=…, MAPPING=…, BUDGETS=… relative to the project root
    truth: Truth
    files: dict[str, Path] = field(default_factory=dict)
    segments: tuple[str, ...] = ("all",)  # the batch grid the end-to-end test renders


# --------------------------------------------------------------------------- the base sample
@dataclass
class Base:
    """The synthetic sample an export is reshaped from (codebook names, sample ids)."""

    survey: pd.DataFrame
    budgets: pd.DataFrame
    ledger: pd.DataFrame
    fx: pd.DataFrame
    vendors: pd.DataFrame


def base_sample(firms: int, waves: int, seed: int, ledger_rows: int = 0) -> Base:
    """The synthetic sample of ``firms`` firms and ``waves`` waves, read back into frames."""
    with tempfile.TemporaryDirectory(prefix="exports-base-") as tmp:
        written = simulate.write_sample(tmp, firms=firms, waves=waves, seed=seed,
                                        ledger_rows=ledger_rows)
        return Base(survey=pd.read_parquet(written["survey"]),
                    budgets=pd.read_parquet(written["budgets"]),
                    ledger=pd.read_parquet(written["ledger"]),
                    fx=pd.read_parquet(written["fx_rates"]),
                    vendors=pd.read_csv(written["vendors"]))


def item_ids(cb: Codebook, constructs: Sequence[str] | None = None,
             without: Sequence[str] = ()) -> list[str]:
    """Codebook items in codebook order, optionally of some constructs only, minus ``without``."""
    return [i.id for i in cb.items.values()
            if (constructs is None or i.construct in constructs) and i.id not in without]


def asked(cb: Codebook, item: str, role: str) -> bool:
    """Whether the codebook asks ``item`` of ``role`` (role-specific items are blank otherwise)."""
    return role in cb.items[item].roles


# --------------------------------------------------------------------------- people and ids
_FOLD = str.maketrans({"ß": "ss", "ø": "o", "Ø": "O", "æ": "ae", "å": "a", "ł": "l"})


def ascii_slug(text: str, sep: str = "") -> str:
    """Lower-case ASCII for e-mail addresses (umlauts folded)."""
    text = unicodedata.normalize("NFKD", text.translate(_FOLD))
    text = text.encode("ascii", "ignore").decode().lower()
    return "".join(c if c.isalnum() else sep for c in text).strip(sep)


def qualtrics_ids(rng: np.random.Generator, n: int) -> list[str]:
    """Unique Qualtrics response ids (R_ + 15 letters and digits)."""
    alphabet = np.array(list(string.ascii_letters + string.digits))
    out: set[str] = set()
    ids: list[str] = []
    while len(ids) < n:
        value = "R_" + "".join(rng.choice(alphabet, 15))
        if value not in out:
            out.add(value)
            ids.append(value)
    return ids


def firm_codes(rng: np.random.Generator, firms: Sequence[str], prefix: str) -> dict[str, str]:
    """Sample firm id -> the study's own firm code (e.g. ``DL-7Q2K9``), unique."""
    alphabet = np.array(list(string.ascii_uppercase.replace("O", "").replace("I", "")
                             + "23456789"))
    codes: dict[str, str] = {}
    for firm in firms:
        while True:
            code = prefix + "".join(rng.choice(alphabet, 5))
            if code not in codes.values():
                codes[firm] = code
                break
    return codes


@dataclass
class People:
    """Personal data of the respondents (made up, in the style of the sample)."""

    first: list[str]
    last: list[str]
    email: list[str]
    ip: list[str]
    comment: list[str | None]

    def personal_values(self) -> list[str]:
        values = {f"{f} {la}" for f, la in zip(self.first, self.last, strict=True)}
        values |= set(self.email) | {v for v in self.ip if v} | {c for c in self.comment if c}
        return sorted(values)


COMMENTS = {
    "DE": ("Die Zusammenarbeit mit der IT hat sich durch gemeinsame Sprints verbessert.",
           "Schwer zu beantworten, da wir gerade umstrukturieren.",
           "Unser MarTech-Budget ist auf zwei Abteilungen verteilt.",
           "Bei Rückfragen gerne an mich wenden – {name}, Durchwahl -{k}.",
           "Ich bin {first} und verantworte das Thema seit {k} Monaten.",
           "Bitte die Ergebnisse an {email} schicken."),
    "EN": ("Collaboration with IT has improved since we started joint sprints.",
           "Hard to answer: we are in the middle of a reorganisation.",
           "Happy to discuss the results - {name}, ext. {k}.",
           "This is {first}; please send the report to {email}.",
           "Our CRM replacement project ({k} users) is run jointly with IT."),
    "NL": ("De samenwerking met IT is beter geworden sinds de gezamenlijke sprints.",
           "Lastig te beantwoorden; we zitten midden in een reorganisatie.",
           "Neem gerust contact op: {name}, toestel {k}.",
           "Ik ben {first} en ik ben sinds {k} maanden verantwoordelijk voor dit thema.",
           "Stuur het rapport graag naar {email}."),
}
NAME_POOLS = {"DE": "de", "AT": "de", "CH": "de", "NL": "nl", "BE": "nl", "DK": "nordic",
              "SE": "nordic", "NO": "nordic", "FI": "nordic"}


def people(rng: np.random.Generator, countries: Sequence[str], firms: Sequence[str],
           comment_language: str, comment_share: float = 0.35) -> People:
    """Made-up names, unique e-mails, documentation-range IPs and free-text comments."""
    first, last, email, ip, comment = [], [], [], [], []
    for k, (country, firm) in enumerate(zip(countries, firms, strict=True)):
        firsts, lasts = simulate.NAMES[NAME_POOLS.get(country, "en")]
        f, la = firsts[rng.integers(len(firsts))], lasts[rng.integers(len(lasts))]
        first.append(f)
        last.append(la)
        mail = f"{ascii_slug(f)}.{ascii_slug(la)}{k + 1}@{ascii_slug(firm, '-')}-corp.example"
        email.append(mail)
        block = ("192.0.2", "198.51.100", "203.0.113")[int(rng.integers(3))]
        ip.append(f"{block}.{int(rng.integers(1, 255))}" if rng.random() > 0.08
                  else f"2001:db8:{int(rng.integers(16, 4095)):x}::{int(rng.integers(16, 65535)):x}")
        if rng.random() < comment_share:
            pool = COMMENTS[comment_language]
            text = pool[int(rng.integers(len(pool)))]
            comment.append(text.format(name=f"{f} {la}", first=f, email=mail, k=100 + k))
        else:
            comment.append(None)
    return People(first, last, email, ip, comment)


# --------------------------------------------------------------------------- answers
@dataclass
class Answers:
    """Item answers as the export writes them, with what the processed data must hold."""

    shown: pd.DataFrame      # label (or code) per cell as written; None for blank
    truth: pd.DataFrame      # numeric value the processed data must hold (NaN for DK/blank)
    dont_know: list[tuple[int, str]] = field(default_factory=list)  # (row position, item)


def answers(survey: pd.DataFrame, items: Sequence[str], cb: Codebook,
            rng: np.random.Generator, label: Callable[[str, float], Any], dk_value: Any,
            dk_share: float, skip_share: float) -> Answers:
    """Render item values with ``label(item, value)``; some become "don't know" or skipped.

    Only cells the role was asked (non-missing in the sample) become "don't know" or skipped;
    cells the role was not asked stay blank.
    """
    shown = pd.DataFrame(index=survey.index, columns=list(items), dtype=object)
    truth = pd.DataFrame(index=survey.index, columns=list(items), dtype="float64")
    dont_know: list[tuple[int, str]] = []
    for item in items:
        values = survey[item].to_numpy(dtype=float)
        u = rng.random(len(values))
        for pos, value in enumerate(values):
            if np.isnan(value):
                shown.iat[pos, shown.columns.get_loc(item)] = None
                truth.iat[pos, truth.columns.get_loc(item)] = np.nan
            elif u[pos] < dk_share:
                shown.iat[pos, shown.columns.get_loc(item)] = dk_value
                truth.iat[pos, truth.columns.get_loc(item)] = np.nan
                dont_know.append((pos, item))
            elif u[pos] < dk_share + skip_share:
                shown.iat[pos, shown.columns.get_loc(item)] = None
                truth.iat[pos, truth.columns.get_loc(item)] = np.nan
            else:
                shown.iat[pos, shown.columns.get_loc(item)] = label(item, value)
                truth.iat[pos, truth.columns.get_loc(item)] = value
    return Answers(shown, truth, dont_know)


def reassign_countries(survey: pd.DataFrame, rng: np.random.Generator,
                       allowed: Sequence[str], weights: Sequence[float]) -> pd.Series:
    """Firm -> country within ``allowed``: firms already there keep theirs (one per firm)."""
    out = {}
    for firm, country in survey.groupby("firm_id", sort=True)["country"].first().items():
        out[firm] = country if country in allowed else str(rng.choice(allowed, p=weights))
    return survey["firm_id"].map(out)


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def field_dates(rng: np.random.Generator, year: int, n: int, month: int = 10) -> list[datetime]:
    """Recorded dates spread over eight weeks of autumn ``year``."""
    start = datetime(year, month, 1, 8, 0, 0)
    return [start + timedelta(seconds=int(s)) for s in rng.integers(0, 56 * 86400, n)]


def budget_amounts(budgets: pd.DataFrame, currency: pd.Series) -> pd.DataFrame:
    """Budgets converted from the sample's currency into the firm's new currency (2 decimals)."""
    rough = {"EUR": 1.0, "DKK": 7.46, "CHF": 0.95, "GBP": 0.85, "SEK": 11.4, "NOK": 11.6,
             "USD": 1.08}
    out = budgets.copy()
    factor = out["firm_id"].map(currency).map(rough) / out["currency"].map(rough)
    for col in ("revenue", "it_budget", "marketing_budget", "martech_budget"):
        out[col] = (out[col] * factor).round(2)
    out["currency"] = out["firm_id"].map(currency)
    return out.drop(columns=[c for c in ("synthetic",) if c in out.columns])


def write_yaml(path: Path, document: dict[str, Any], header: str) -> None:
    """A mapping file as a user writes it: a comment on top, keys in a readable order."""
    text = yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=100)
    path.write_text(header.rstrip() + "\n" + text, encoding="utf-8")


def expected_frame(survey: pd.DataFrame, ids: Sequence[Any], firms: pd.Series,
                   fields: dict[str, Any], items: pd.DataFrame) -> pd.DataFrame:
    """Expected processed rows: raw ids, codebook fields and item values (codebook names)."""
    out = pd.DataFrame({"respondent_id": [str(i) for i in ids],
                        "firm_id": firms.astype(str).to_numpy()}, index=survey.index)
    for name, values in fields.items():
        out[name] = values
    return pd.concat([out, items], axis=1).reset_index(drop=True)


def dont_know_frame(ids: Sequence[Any], cells: Sequence[tuple[int, str]]) -> pd.DataFrame:
    return pd.DataFrame({"respondent_id": [str(ids[p]) for p, _ in cells],
                         "item": [i for _, i in cells]}, columns=["respondent_id", "item"])


def write_qualtrics_csv(path: Path, rows: pd.DataFrame, texts: dict[str, str],
                        import_ids: dict[str, str] | None) -> None:
    """A Qualtrics CSV: names, question texts and (three-row variant) the ImportId row."""
    import csv

    columns = list(rows.columns)
    with open(path, "w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\r\n")
        writer.writerow(columns)
        writer.writerow([texts.get(c, c) for c in columns])
        if import_ids is not None:
            writer.writerow([json.dumps(import_ids[c], ensure_ascii=False, separators=(",", ":"))
                             if isinstance(import_ids[c], dict)
                             else json.dumps({"ImportId": import_ids[c]}, separators=(",", ":"))
                             for c in columns])
        for record in rows.itertuples(index=False):
            writer.writerow(["" if v is None or (isinstance(v, float) and np.isnan(v)) else v
                             for v in record])


def construct_questions(cb: Codebook, items: Sequence[str], first: int,
                        name: Callable[[int, int], str]) -> dict[str, str]:
    """Item -> source column, one question number per construct (``name(q, k)``)."""
    out: dict[str, str] = {}
    constructs: list[str] = []
    for item in items:
        construct = cb.items[item].construct
        if construct not in constructs:
            constructs.append(construct)
        q = first + constructs.index(construct)
        k = sum(cb.items[i].construct == construct for i in out) + 1
        out[item] = name(q, k)
    return out


# =========================================================================== a. Qualtrics, German
LIKERT_DE = {1: "Stimme überhaupt nicht zu", 2: "Stimme eher nicht zu", 3: "Weder noch",
             4: "Stimme eher zu", 5: "Stimme voll und ganz zu"}
YESNO_DE = {0: "Nein", 1: "Ja"}
COUNTRY_DE = {"DE": "Deutschland", "AT": "Österreich", "CH": "Schweiz", "NL": "Niederlande",
              "BE": "Belgien", "DK": "Dänemark", "UK": "Vereinigtes Königreich",
              "SE": "Schweden", "NO": "Norwegen"}
INDUSTRY_DE = {"Retail": "Einzelhandel", "Financial services": "Finanzdienstleistungen",
               "Manufacturing": "Industrie / Fertigung",
               "Telecom and media": "Telekommunikation & Medien",
               "Consumer goods": "Konsumgüter", "Health": "Gesundheitswesen",
               "Travel and hospitality": "Reise & Gastgewerbe"}
SIZE_DE = {"<250": "weniger als 250", "250-999": "250 – 999", "1000-4999": "1.000 – 4.999",
           "5000+": "5.000 und mehr"}
ROLE_DE = {"CMO": "Marketingleiter/in", "CIO": "IT-Leiter/in"}


def _label(scale_labels: dict[str, dict[int, Any]], cb: Codebook) -> Callable[[str, float], Any]:
    """label(item, value) from per-scale-type label tables."""
    return lambda item, value: scale_labels[cb.items[item].scale.type][int(value)]


def qualtrics_de(root: Path, *, firms: int = 70, seed: int = 9101) -> Export:
    """Two-wave Qualtrics three-row CSV, German labels, metadata, junk rows, budget sheet.

    Also: a CMO and a CIO of one firm-wave give different size bands (the processed data must
    give both the CIO's, the documented rule of ``helpers.validate.harmonise_firm_attributes``);
    no ``wave_years`` in the mapping: the years (2023, 2024) come from ``RecordedDate``.
    """
    cb = load_codebook()
    name = "qualtrics_de"
    folder = root / "data" / "raw" / name
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    base = base_sample(firms, 2, seed)
    s = base.survey.reset_index(drop=True)
    s["country"] = reassign_countries(s, rng, ["DE", "AT", "CH"], [0.6, 0.2, 0.2])
    firm_country = s.groupby("firm_id")["country"].first()
    firm_language = {f: "EN" if c == "CH" and rng.random() < 0.3 else "DE"
                     for f, c in firm_country.items()}
    s["language"] = s["firm_id"].map(firm_language)
    # the study shortened data readiness and did not ask about sales involvement at all
    items = item_ids(cb, without=["ready_3", "sales_1", "sales_2"])
    codes = firm_codes(rng, sorted(s["firm_id"].unique()), "DL-")
    ids = qualtrics_ids(rng, len(s) + 10)
    s["ResponseId"] = ids[:len(s)]
    spare_ids = ids[len(s):]
    wave_years = {1: 2023, 2: 2024}

    ans = answers(s, items, cb, rng, _label({"likert": LIKERT_DE, "binary": YESNO_DE}, cb),
                  "Weiß nicht", dk_share=0.03, skip_share=0.015)
    who = people(rng, s["country"].tolist(), s["firm_id"].map(codes).tolist(), "DE")

    # five respondents left the questionnaire half-way (Finished = False): excluded by the mapping
    unfinished = sorted(rng.choice(len(s), 5, replace=False).tolist())
    progress = {}
    for pos in unfinished:
        cut = int(rng.integers(len(items) // 5, 4 * len(items) // 5))
        for item in items[cut:]:
            ans.shown.iat[pos, ans.shown.columns.get_loc(item)] = None
        progress[pos] = int(round(100 * (cut + 5) / (len(items) + 7)))
        who.comment[pos] = None
    dk_valid = [(p, i) for p, i in ans.dont_know if p not in unfinished]

    questions = construct_questions(cb, items, 10, lambda q, k: f"Q{q}_{k}")
    texts = {"Q2": "Welche Funktion haben Sie in Ihrem Unternehmen?",
             "Q3": "In welchem Land hat Ihr Unternehmen seinen Hauptsitz?",
             "Q4": "In welcher Branche ist Ihr Unternehmen tätig?",
             "Q5": "Wie viele Beschäftigte hat Ihr Unternehmen?",
             "Q40": "Möchten Sie uns noch etwas mitteilen? (optional)",
             "Welle": "Welle", "Firmencode": "Firmencode"}
    texts.update({src: "Inwieweit stimmen Sie den folgenden Aussagen zu? - "
                  + cb.items[item].wording["DE"] for item, src in questions.items()})
    texts.update({m: simulate_text for m, simulate_text in QUALTRICS_TEXT.items()})

    dates = []
    for wave in s["wave"]:
        dates.append(field_dates(rng, wave_years[int(wave)], 1)[0])
    # one CMO answers the size question for the marketing organisation, not the whole firm:
    # the firm-wave's CMO and CIO disagree; the documented rule gives the firm the CIO's band
    size_shown = s["size_band"].map(SIZE_DE)
    w2 = s[(s["wave"] == 2) & ~s.index.isin(unfinished)]
    both = w2.groupby("firm_id")["role"].nunique()
    conflict = w2[(w2["firm_id"] == both[both == 2].index[-1]) & (w2["role"] == "CMO")].index[0]
    bands = list(SIZE_DE)
    other = bands[(bands.index(s.at[conflict, "size_band"]) + 1) % len(bands)]
    size_shown.iat[conflict] = SIZE_DE[other]
    rows = []
    for pos, r in s.iterrows():
        finished = pos not in unfinished
        duration = int(r["duration_seconds"]) if finished else int(rng.integers(120, 900))
        rows.append(_qualtrics_row(
            recorded=dates[pos], duration=duration, status="IP Address", ip=who.ip[pos],
            progress=100 if finished else progress[pos], finished=finished,
            response_id=r["ResponseId"], last=who.last[pos], first=who.first[pos],
            email=who.email[pos], language=r["language"], role=ROLE_DE[r["role"]],
            country=COUNTRY_DE[r["country"]], industry=INDUSTRY_DE[r["industry"]],
            size=size_shown.iat[pos], answers=ans.shown.iloc[pos], questions=questions,
            comment=who.comment[pos], wave=int(r["wave"]), firm=codes[r["firm_id"]], rng=rng))

    # rows a researcher has to exclude ---------------------------------------------------------
    junk_people = people(rng, ["DE"] * 5, ["disconnect-lab"] * 5, "DE", comment_share=0.0)
    template = ans.shown.iloc[int(rng.integers(len(s)))]
    w1 = s[s["wave"] == 1]
    pair_firms = w1.groupby("firm_id")["role"].nunique()
    cfo_firm = str(pair_firms[pair_firms == 2].index[0])
    w2_cmo = s[(s["wave"] == 2) & (s["role"] == "CMO")].iloc[3]
    dup_answers = ans.shown.iloc[int(rng.integers(len(s)))]
    junk = [
        # the researcher's own preview: no embedded data, excluded by default (Status)
        dict(recorded=datetime(2023, 9, 28, 16, 2, 11), duration=312, status="Survey Preview",
             ip="", progress=100, finished=True, response_id=spare_ids[0], last="", first="",
             email="", language="DE", role=ROLE_DE["CMO"], country="Deutschland",
             industry=INDUSTRY_DE["Retail"], size=SIZE_DE["250-999"], answers=template,
             comment="Vorschau – Filterführung prüfen", wave=None, firm=""),
        # flagged as spam by Qualtrics (bot-like): excluded by default (Status)
        dict(recorded=datetime(2024, 10, 19, 3, 14, 5), duration=38, status="Spam",
             ip="203.0.113.250", progress=100, finished=True, response_id=spare_ids[1],
             last="", first="", email="", language="DE", role=ROLE_DE["CIO"],
             country="Schweiz", industry=INDUSTRY_DE["Health"], size=SIZE_DE["<250"],
             answers=template.map(lambda v: v if v is None else
                                  ("Ja" if v in YESNO_DE.values() else LIKERT_DE[5])),
             comment=None, wave=2, firm="DL-ZZZZ9"),
        # a colleague's test run through the real link: excluded by the mapping (Firmencode)
        dict(recorded=datetime(2023, 10, 2, 9, 30, 0), duration=655, status="IP Address",
             ip="192.0.2.200", progress=100, finished=True, response_id=spare_ids[2],
             last=junk_people.last[0], first=junk_people.first[0],
             email="testlauf.marketing@disconnect-lab.example", language="DE",
             role=ROLE_DE["CMO"], country="Deutschland", industry=INDUSTRY_DE["Retail"],
             size=SIZE_DE["1000-4999"], answers=template,
             comment="Testdurchlauf vor dem Versand – bitte ignorieren", wave=1, firm="TEST"),
        # the CMO forwarded the link and a team member answered as well: excluded by id
        dict(recorded=datetime(2024, 11, 27, 11, 45, 3), duration=702, status="IP Address",
             ip=junk_people.ip[1], progress=100, finished=True, response_id=spare_ids[3],
             last=junk_people.last[1], first=junk_people.first[1], email=junk_people.email[1],
             language=w2_cmo["language"], role=ROLE_DE["CMO"],
             country=COUNTRY_DE[w2_cmo["country"]], industry=INDUSTRY_DE[w2_cmo["industry"]],
             size=SIZE_DE[w2_cmo["size_band"]], answers=dup_answers,
             comment="Ich habe den Link von meiner Chefin bekommen.", wave=2,
             firm=codes[w2_cmo["firm_id"]]),
        # the CFO answered instead of the CIO's deputy: neither CMO nor CIO, excluded by value
        dict(recorded=datetime(2023, 11, 3, 14, 0, 40), duration=590, status="IP Address",
             ip=junk_people.ip[2], progress=100, finished=True, response_id=spare_ids[4],
             last=junk_people.last[2], first=junk_people.first[2], email=junk_people.email[2],
             language="DE", role="Finanzvorstand (CFO)",
             country=COUNTRY_DE[firm_country[cfo_firm]],
             industry=INDUSTRY_DE[s.loc[s["firm_id"] == cfo_firm, "industry"].iloc[0]],
             size=SIZE_DE[s.loc[s["firm_id"] == cfo_firm, "size_band"].iloc[0]],
             answers=ans.shown.iloc[int(rng.integers(len(s)))], comment=None, wave=1,
             firm=codes[cfo_firm]),
    ]
    rows += [_qualtrics_row(questions=questions, rng=rng, **j) for j in junk]
    frame = pd.DataFrame(rows).sort_values("RecordedDate", kind="stable").reset_index(drop=True)
    import_ids = {c: QUALTRICS_IMPORT.get(c, {"ImportId": c}) for c in frame.columns}
    import_ids.update({src: {"ImportId": "QID" + src[1:]} for src in questions.values()})
    import_ids.update({f"Q{k}": {"ImportId": f"QID{k}"} for k in (2, 3, 4, 5)})
    import_ids["Q40"] = {"ImportId": "QID40_TEXT"}
    survey_file = folder / "CMO_CIO_Studie_2023-2024.csv"
    write_qualtrics_csv(survey_file, frame, texts, import_ids)

    # budget sheet from controlling ------------------------------------------------------------
    currency = firm_country.map(lambda c: "CHF" if c == "CH" else "EUR")
    budgets = budget_amounts(base.budgets[base.budgets["year"].isin(wave_years.values())],
                             currency)
    budgets_file = folder / "Budgets_Controlling.xlsx"
    _write_budget_sheet(budgets_file, budgets, codes, rng)
    expected_budgets = budgets.assign(firm_id=budgets["firm_id"].map(codes))

    # the mapping, as a user writes it from data/README.md ---------------------------------------
    mapping = {
        "source": "Qualtrics-Export CMO-CIO-Studie, Wellen 2023 und 2024 (Beschriftungen)",
        "columns": {"ResponseId": "respondent_id", "Firmencode": "firm_id", "Q2": "role",
                    "Q3": "country", "Q4": "industry", "Q5": "size_band", "Welle": "wave",
                    "UserLanguage": "language", "Duration (in seconds)": "duration_seconds",
                    "RecipientEmail": "email", "IPAddress": "ip_address", "Q40": "comment",
                    **{src: item for item, src in questions.items()}},
        "drop": ["RecipientFirstName", "RecipientLastName", "LocationLatitude",
                 "LocationLongitude", "ExternalReference", "DistributionChannel"],
        "recode": {
            "country": {v: k for k, v in COUNTRY_DE.items() if k in ("DE", "AT", "CH")},
            "industry": {v: k for k, v in INDUSTRY_DE.items()},
            "size_band": {v: k for k, v in SIZE_DE.items()},
            "agree5": {v: k for k, v in LIKERT_DE.items()},
            "yesno": {v: k for k, v in YESNO_DE.items()},
        },
        "dont_know": ["Weiß nicht"],
        "unfinished": "exclude",
        "exclude": [
            {"reason": "test response", "column": "Firmencode", "values": ["TEST"]},
            {"reason": "forwarded link: second response for the same firm and role",
             "ids": [spare_ids[3]]},
            {"reason": "neither CMO nor CIO", "column": "Q2", "values": ["Finanzvorstand (CFO)"]},
        ],
        # no wave_years: each wave was fielded in the year its answers refer to, so the year
        # comes from the export's RecordedDate
        "budgets": {"columns": {"Firma": "firm_id", "Jahr": "year", "Währung": "currency",
                                "Umsatz": "revenue", "IT-Budget": "it_budget",
                                "Marketingbudget": "marketing_budget",
                                "Martech-Budget": "martech_budget"}},
    }
    mapping_file = folder / "mapping.yaml"
    write_yaml(mapping_file, mapping, "# Mapping für den Qualtrics-Export der CMO-CIO-Studie "
               "(geschrieben nach data/README.md)")

    valid = [p for p in range(len(s)) if p not in unfinished]
    sv = s.iloc[valid]
    expected = expected_frame(
        sv, sv["ResponseId"].tolist(), sv["firm_id"].map(codes),
        {"role": sv["role"], "country": sv["country"], "industry": sv["industry"],
         "size_band": sv["size_band"], "wave": sv["wave"].astype(int),
         "language": sv["language"], "duration_seconds": sv["duration_seconds"].astype(float),
         "year": sv["wave"].map(wave_years)},
        ans.truth.iloc[valid])
    personal = set(who.personal_values()) | set(junk_people.personal_values())
    personal |= {j["comment"] for j in junk if j["comment"]} | {
        j["email"] for j in junk if j["email"]}
    truth = Truth(
        name=name, rows_read=len(frame), expected=expected,
        exclusions=[
            Exclusion("preview", r"preview", 1),
            Exclusion("spam", r"spam", 1),
            Exclusion("unfinished", r"unfinished|not finished|incomplete", len(unfinished)),
            Exclusion("test", r"test response", 1, "test response"),
            Exclusion("duplicate", r"forwarded link", 1,
                      "forwarded link: second response for the same firm and role"),
            Exclusion("role", r"neither CMO nor CIO", 1, "neither CMO nor CIO"),
        ],
        dont_know=dont_know_frame(s["ResponseId"].tolist(), dk_valid),
        absent_items=["ready_3", "sales_1", "sales_2"], personal=sorted(personal),
        raw_ids=sorted(set(frame["ResponseId"]) | set(codes.values())),
        unfinished="exclude", wave_years=wave_years, budgets=expected_budgets)
    return _finish(name, folder, {"SURVEY": survey_file, "MAPPING": mapping_file,
                                  "BUDGETS": budgets_file}, truth, root, ("all", "wave"))


QUALTRICS_TEXT = {
    "StartDate": "Start Date", "EndDate": "End Date", "Status": "Response Type",
    "IPAddress": "IP Address", "Progress": "Progress",
    "Duration (in seconds)": "Duration (in seconds)", "Finished": "Finished",
    "RecordedDate": "Recorded Date", "ResponseId": "Response ID",
    "RecipientLastName": "Recipient Last Name", "RecipientFirstName": "Recipient First Name",
    "RecipientEmail": "Recipient Email", "ExternalReference": "External Data Reference",
    "LocationLatitude": "Location Latitude", "LocationLongitude": "Location Longitude",
    "DistributionChannel": "Distribution Channel", "UserLanguage": "User Language",
}
QUALTRICS_IMPORT = {
    "StartDate": {"ImportId": "startDate", "timeZone": "Europe/Berlin"},
    "EndDate": {"ImportId": "endDate", "timeZone": "Europe/Berlin"},
    "Status": {"ImportId": "status"}, "IPAddress": {"ImportId": "ipAddress"},
    "Progress": {"ImportId": "progress"}, "Duration (in seconds)": {"ImportId": "duration"},
    "Finished": {"ImportId": "finished"},
    "RecordedDate": {"ImportId": "recordedDate", "timeZone": "Europe/Berlin"},
    "ResponseId": {"ImportId": "_recordId"},
    "RecipientLastName": {"ImportId": "recipientLastName"},
    "RecipientFirstName": {"ImportId": "recipientFirstName"},
    "RecipientEmail": {"ImportId": "recipientEmail"},
    "ExternalReference": {"ImportId": "externalDataReference"},
    "LocationLatitude": {"ImportId": "locationLatitude"},
    "LocationLongitude": {"ImportId": "locationLongitude"},
    "DistributionChannel": {"ImportId": "distributionChannel"},
    "UserLanguage": {"ImportId": "userLanguage"},
}


def _qualtrics_row(*, recorded: datetime, duration: int, status: str, ip: str, progress: int,
                   finished: bool, response_id: str, last: str, first: str, email: str,
                   language: str, role: str, country: str, industry: str, size: str,
                   answers: pd.Series, questions: dict[str, str], comment: str | None,
                   wave: int | None, firm: str, rng: np.random.Generator,
                   finished_text: tuple[str, str] = ("True", "False")) -> dict[str, Any]:
    """One Qualtrics response row: metadata, questions, comment, embedded data."""
    start = recorded - timedelta(seconds=duration + int(rng.integers(0, 4)))
    row: dict[str, Any] = {
        "StartDate": stamp(start), "EndDate": stamp(recorded - timedelta(seconds=1)),
        "Status": status, "IPAddress": ip, "Progress": progress,
        "Duration (in seconds)": duration,
        "Finished": finished_text[0] if finished else finished_text[1],
        "RecordedDate": stamp(recorded), "ResponseId": response_id,
        "RecipientLastName": last, "RecipientFirstName": first, "RecipientEmail": email,
        "ExternalReference": "",
        "LocationLatitude": f"{rng.uniform(46.0, 54.5):.4f}" if ip else "",
        "LocationLongitude": f"{rng.uniform(6.0, 15.0):.4f}" if ip else "",
        "DistributionChannel": "email" if email else ("preview" if status == "Survey Preview"
                                                      else "anonymous"),
        "UserLanguage": language, "Q2": role, "Q3": country, "Q4": industry, "Q5": size,
    }
    for item, src in questions.items():
        row[src] = answers.get(item)
    row["Q40"] = comment or ""
    row["Welle"] = "" if wave is None else wave
    row["Firmencode"] = firm
    return row


def _write_budget_sheet(path: Path, budgets: pd.DataFrame, codes: dict[str, str],
                        rng: np.random.Generator) -> None:
    """Controlling's Excel sheet: German headers; some amounts pasted as text with decimal
    commas and thousands points (as copied out of an ERP screen)."""
    import openpyxl
    from openpyxl.styles import Font

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Budgets"
    header = ["Firma", "Jahr", "Währung", "Umsatz", "IT-Budget", "Marketingbudget",
              "Martech-Budget"]
    ws.append(header)
    for cell in ws[1]:
        cell.font = Font(bold=True)
    ordered = budgets.assign(code=budgets["firm_id"].map(codes)).sort_values(["code", "year"])
    for _, b in ordered.iterrows():
        row: list[Any] = [b["code"], int(b["year"]), b["currency"]]
        for col in ("revenue", "it_budget", "marketing_budget", "martech_budget"):
            value = float(b[col])
            if rng.random() < 0.15:
                whole, cents = f"{value:,.2f}".split(".")
                row.append(whole.replace(",", ".") + "," + cents)  # "12.345.678,90"
            else:
                row.append(value)
        ws.append(row)
    for r in ws.iter_rows(min_row=2, min_col=4, max_col=7):
        for cell in r:
            if isinstance(cell.value, float):
                cell.number_format = "#,##0.00"
    wb.save(path)


def _finish(name: str, folder: Path, files: dict[str, Path], truth: Truth, root: Path,
            segments: tuple[str, ...] = ("all",)) -> Export:
    """Write truth.json and return the Export with README-style relative make arguments."""
    (folder / "truth.json").write_text(json.dumps(truth.to_json(), indent=2, ensure_ascii=False)
                                       + "\n", encoding="utf-8")
    args = {key: str(path.relative_to(root)) for key, path in files.items()}
    return Export(name=name, folder=folder, make_args=args, truth=truth, files=files,
                  segments=segments)


# =========================================================================== b. SPSS, numeric codes
COUNTRY_CODES = {"DE": 1, "AT": 2, "CH": 3, "NL": 4, "BE": 5, "DK": 6, "UK": 7, "SE": 8, "NO": 9}
LANGUAGE_SAV = {"DE": (1, "Deutsch"), "EN": (2, "Englisch"), "NL": (3, "Niederländisch"),
                "DA": (4, "Dänisch")}
INDUSTRY_CODES = {k: n for n, k in enumerate(INDUSTRY_DE, start=1)}
SIZE_CODES = {k: n for n, k in enumerate(SIZE_DE, start=1)}
LIKERT_SAV = {1: "trifft überhaupt nicht zu", 2: "trifft eher nicht zu", 3: "teils/teils",
              4: "trifft eher zu", 5: "trifft voll und ganz zu"}
YESNO_SAV = {1: "ja", 2: "nein"}  # SPSS habit: 1 = yes, 2 = no (the codebook wants 1/0)
DK_CODE, NOT_SEEN, NO_ANSWER = 9, -77, -99


def spss_efs(root: Path, *, firms: int = 80, seed: int = 9202) -> Export:
    """One-wave SPSS file as an online-survey platform exports it (EFS-style): numeric codes with
    value labels, 9 = "weiß nicht" (declared user-missing on half of the items, only labelled on
    the others), -77 "nicht gesehen" / -99 "keine Antwort" user-missing, interrupted interviews
    (dispcode 22) to exclude, numeric ids. No budgets."""
    import pyreadstat

    cb = load_codebook()
    name = "spss_efs"
    folder = root / "data" / "raw" / name
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    base = base_sample(firms, 1, seed)
    s = base.survey.reset_index(drop=True)
    items = item_ids(cb)
    firm_numbers = {f: 1000 + 7 * k + int(rng.integers(0, 7))
                    for k, f in enumerate(sorted(s["firm_id"].unique()))}
    lfdn = (np.arange(len(s)) * 3 + 17 + rng.integers(0, 3, len(s))).tolist()  # gaps: deleted
    s["lfdn"] = lfdn
    variables = {item: f"v_{100 + k}" for k, item in enumerate(items)}

    def code(item: str, value: float) -> int:
        if cb.items[item].scale.type == "binary":
            return 1 if value == 1 else 2
        return int(value)

    ans = answers(s, items, cb, rng, code, DK_CODE, dk_share=0.03, skip_share=0.02)
    who = people(rng, s["country"].tolist(), s["firm_id"].map(str).tolist(), "DE")
    interrupted = sorted(rng.choice(len(s), 4, replace=False).tolist())
    for pos in interrupted:
        cut = int(rng.integers(len(items) // 4, 3 * len(items) // 4))
        for item in items[cut:]:
            ans.shown.iat[pos, ans.shown.columns.get_loc(item)] = None
        who.comment[pos] = None

    data: dict[str, Any] = {
        "lfdn": np.array(lfdn, dtype=float),
        "dispcode": [22.0 if p in interrupted else float(rng.choice([31, 31, 31, 32]))
                     for p in range(len(s))],
        "duration": s["duration_seconds"].astype(float).to_numpy(),
        "firmennr": s["firm_id"].map(firm_numbers).astype(float).to_numpy(),
        "welle": np.ones(len(s)),
        "rolle": s["role"].map({"CMO": 1.0, "CIO": 2.0}).to_numpy(),
        "land": s["country"].map(COUNTRY_CODES).astype(float).to_numpy(),
        "branche": s["industry"].map(INDUSTRY_CODES).astype(float).to_numpy(),
        "groesse": s["size_band"].map(SIZE_CODES).astype(float).to_numpy(),
        "sprache": s["language"].map(lambda v: LANGUAGE_SAV[v][0]).astype(float).to_numpy(),
    }
    for item in items:
        shown = ans.shown[item]
        not_asked = s["role"].map(lambda r, i=item: not asked(cb, i, r)).to_numpy()
        values = []
        for pos, v in enumerate(shown):
            if v is not None:
                values.append(float(v))
            elif not_asked[pos] or pos in interrupted:  # filtered out, or after the break
                values.append(float(NOT_SEEN))
            else:  # shown, skipped
                values.append(float(NO_ANSWER))
        data[variables[item]] = values
    data["v_300"] = [c or "" for c in who.comment]
    data["email"] = who.email
    frame = pd.DataFrame(data)

    labels: dict[str, dict[float, str]] = {
        "dispcode": {22.0: "beendet (unterbrochen)", 31.0: "beendet",
                     32.0: "beendet nach Unterbrechung"},
        "rolle": {1.0: "Marketingleitung (CMO)", 2.0: "IT-Leitung (CIO)"},
        "land": {float(v): COUNTRY_DE[k] for k, v in COUNTRY_CODES.items()},
        "branche": {float(v): INDUSTRY_DE[k] for k, v in INDUSTRY_CODES.items()},
        "groesse": {float(v): SIZE_DE[k] for k, v in SIZE_CODES.items()},
        "sprache": {float(c): label for c, label in LANGUAGE_SAV.values()},
        "welle": {1.0: "Welle 1 (2024)"},
    }
    missing_ranges: dict[str, list[Any]] = {}
    declared = set(items[::2])  # every other item declares 9 as user-missing as well
    for item in items:
        base_labels = LIKERT_SAV if cb.items[item].scale.type == "likert" else YESNO_SAV
        labels[variables[item]] = {float(k): v for k, v in base_labels.items()} | {
            float(DK_CODE): "weiß nicht", float(NOT_SEEN): "nicht gesehen",
            float(NO_ANSWER): "keine Antwort"}
        missing_ranges[variables[item]] = ([DK_CODE] if item in declared else []) + [
            NOT_SEEN, NO_ANSWER]
    column_labels = {"lfdn": "Laufende Nummer", "dispcode": "Dispositionscode",
                     "duration": "Bearbeitungsdauer (Sekunden)", "firmennr": "Firmennummer",
                     "welle": "Befragungswelle", "rolle": "Funktion", "land": "Land",
                     "branche": "Branche", "groesse": "Unternehmensgröße (Beschäftigte)",
                     "sprache": "Sprache des Fragebogens", "v_300": "Anmerkungen (offen)",
                     "email": "E-Mail (Panel)"}
    column_labels.update({variables[i]: cb.items[i].wording["DE"] for i in items})
    survey_file = folder / "cmo_cio_2024.sav"
    pyreadstat.write_sav(frame, str(survey_file),
                         column_labels=[column_labels[c] for c in frame.columns],
                         variable_value_labels=labels, missing_ranges=missing_ranges)

    mapping = {
        "source": "EFS-Export (SPSS), Befragung 2024",
        "columns": {"lfdn": "respondent_id", "firmennr": "firm_id", "rolle": "role",
                    "land": "country", "branche": "industry", "groesse": "size_band",
                    "welle": "wave", "sprache": "language", "duration": "duration_seconds",
                    "email": "email", "v_300": "comment",
                    **{v: item for item, v in variables.items()}},
        "value_labels": True,
        "recode": {
            "country": {COUNTRY_DE[k]: k for k in COUNTRY_CODES},
            "industry": {INDUSTRY_DE[k]: k for k in INDUSTRY_CODES},
            "size_band": {SIZE_DE[k]: k for k in SIZE_CODES},
            "language": {label: code for code, (_, label) in LANGUAGE_SAV.items()},
            "cofund_1, kpi_1, agile_1, fail_1": {"ja": 1, "nein": 0},
        },
        "dont_know": ["weiß nicht"],
        "exclude": [{"reason": "interview interrupted (dispcode 22)", "column": "dispcode",
                     "values": [22]}],
        "wave_years": {1: 2024},
    }
    mapping_file = folder / "mapping.yaml"
    write_yaml(mapping_file, mapping, "# Mapping for the EFS SPSS export (numeric codes, "
               "value labels in the file)")

    valid = [p for p in range(len(s)) if p not in interrupted]
    sv = s.iloc[valid]
    expected = expected_frame(
        sv, sv["lfdn"].tolist(), sv["firm_id"].map(firm_numbers),
        {"role": sv["role"], "country": sv["country"], "industry": sv["industry"],
         "size_band": sv["size_band"], "wave": 1, "language": sv["language"],
         "duration_seconds": sv["duration_seconds"].astype(float), "year": 2024},
        ans.truth.iloc[valid])
    dk_valid = [(p, i) for p, i in ans.dont_know if p not in interrupted]
    truth = Truth(
        name=name, rows_read=len(frame), expected=expected,
        exclusions=[Exclusion("interrupted", r"interview interrupted", len(interrupted),
                              "interview interrupted (dispcode 22)")],
        dont_know=dont_know_frame(s["lfdn"].tolist(), dk_valid), absent_items=[],
        personal=who.personal_values(), raw_ids=[], wave_years={1: 2024})
    return _finish(name, folder, {"SURVEY": survey_file, "MAPPING": mapping_file}, truth, root)


# =========================================================================== c. half the constructs
C_CONSTRUCTS = ("importance_alignment", "mutual_trust", "shared_understanding_own",
                "shared_understanding_predicted", "bypass_standards", "it_service_orientation",
                "cofunded_projects", "shared_kpis", "joint_project_success")
LIKERT_NL = {1: "Helemaal mee oneens", 2: "Mee oneens", 3: "Neutraal", 4: "Mee eens",
             5: "Helemaal mee eens"}
YESNO_NL = {0: "Nee", 1: "Ja"}
COUNTRY_NL = {"NL": "Nederland", "BE": "België"}
INDUSTRY_NL = {"Retail": "Detailhandel", "Financial services": "Financiële dienstverlening",
               "Manufacturing": "Industrie", "Telecom and media": "Telecom en media",
               "Consumer goods": "Consumentengoederen", "Health": "Zorg",
               "Travel and hospitality": "Reizen en horeca"}
SIZE_NL = {"<250": "Minder dan 250", "250-999": "250 tot 999", "1000-4999": "1.000 tot 4.999",
           "5000+": "5.000 of meer"}
ROLE_NL = {"CMO": "Marketingdirecteur", "CIO": "IT-directeur"}


def limesurvey_half(root: Path, *, firms: int = 60, seed: int = 9303) -> Export:
    """LimeSurvey-style CSV (semicolons, decimal commas, Windows-1252, Dutch answers) of a study
    that asked only 9 of the 20 constructs; waves 2 and 3 of a running panel; incomplete
    responses (no submit date) and a test response to exclude; no budgets."""
    cb = load_codebook()
    name = "limesurvey_half"
    folder = root / "data" / "raw" / name
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    base = base_sample(firms, 2, seed)
    s = base.survey.reset_index(drop=True)
    s["wave"] = s["wave"] + 1  # the panel's waves 2 and 3
    s["country"] = reassign_countries(s, rng, ["NL", "BE"], [0.65, 0.35])
    s["language"] = s["firm_id"].map(
        {f: "EN" if rng.random() < 0.2 else "NL" for f in sorted(s["firm_id"].unique())})
    items = item_ids(cb, constructs=C_CONSTRUCTS)
    wave_years = {2: 2024, 3: 2025}
    codes = {f: 4100 + k * 13 for k, f in enumerate(sorted(s["firm_id"].unique()))}
    drawn = [field_dates(rng, wave_years[int(w)], 1, month=3)[0] for w in s["wave"]]
    order = np.argsort([d.timestamp() for d in drawn], kind="stable")  # LimeSurvey: by id
    s = s.iloc[order].reset_index(drop=True)
    dates = [drawn[k] for k in order]
    s["id"] = np.arange(1, len(s) + 1) + 2  # ids 1 and 2 were the researcher's own test runs

    ans = answers(s, items, cb, rng, _label({"likert": LIKERT_NL, "binary": YESNO_NL}, cb),
                  "Weet ik niet", dk_share=0.025, skip_share=0.02)
    who = people(rng, s["country"].tolist(), s["firm_id"].map(str).tolist(), "NL")
    incomplete = sorted(rng.choice(len(s), 4, replace=False).tolist())
    lastpage = {}
    for pos in incomplete:
        cut = int(rng.integers(2, len(items) - 3))
        for item in items[cut:]:
            ans.shown.iat[pos, ans.shown.columns.get_loc(item)] = None
        lastpage[pos] = 1 + cut // 8
        who.comment[pos] = None
    groups = construct_questions(cb, items, 1, lambda q, k: f"A{q}[SQ{k:03d}]")
    groups = {i: (src.split("[")[0] if cb.items[i].scale.type == "binary" else src)
              for i, src in groups.items()}  # yes/no questions are single columns

    def comma(x: float) -> str:
        return f"{x:.2f}".replace(".", ",")

    rows = []
    for pos, r in s.iterrows():
        done = pos not in incomplete
        rows.append({
            "id": int(r["id"]),
            "submitdate": stamp(dates[pos]) if done else "",
            "lastpage": 7 if done else lastpage[pos],
            "startlanguage": r["language"].lower(),
            "seed": int(rng.integers(10**8, 10**9)),
            "startdate": stamp(dates[pos] - timedelta(seconds=float(r["duration_seconds"]))),
            "datestamp": stamp(dates[pos]),
            "ipaddr": who.ip[pos],
            "bedrijfscode": codes[r["firm_id"]],
            "golf": int(r["wave"]),
            "functie": ROLE_NL[r["role"]],
            "land": COUNTRY_NL[r["country"]],
            "sector": INDUSTRY_NL[r["industry"]],
            "omvang": SIZE_NL[r["size_band"]],
            **{src: ans.shown[item].iat[pos] for item, src in groups.items()},
            "naam": f"{who.first[pos]} {who.last[pos]}",
            "email": who.email[pos],
            "opmerkingen": who.comment[pos] or "",
            "interviewtime": comma(float(r["duration_seconds"]) + rng.uniform(0, 1)),
        })
    # a test response by a colleague, sent through the live link
    template = {src: ans.shown[item].iat[0] for item, src in groups.items()}
    test_person = people(rng, ["NL"], ["disconnect-lab"], "NL", comment_share=0.0)
    rows.append({**rows[0], "id": len(s) + 3, "submitdate": "2024-03-05 09:12:00",
                 "datestamp": "2024-03-05 09:12:00", "startdate": "2024-03-05 09:01:40",
                 "ipaddr": "192.0.2.7", "bedrijfscode": 9999, "golf": 2,
                 "naam": f"{test_person.first[0]} {test_person.last[0]}",
                 "email": "proefrespondent@disconnect-lab.example",
                 "opmerkingen": "TESTRESPONS - niet meetellen", "interviewtime": "620,00",
                 **template})
    frame = pd.DataFrame(rows)
    survey_file = folder / "results-survey-483921.csv"
    text = frame.to_csv(sep=";", index=False, lineterminator="\r\n")
    survey_file.write_bytes(text.encode("cp1252"))

    mapping = {
        "source": "LimeSurvey export (CSV, Dutch answer texts), waves 2 and 3",
        "columns": {"id": "respondent_id", "bedrijfscode": "firm_id", "functie": "role",
                    "land": "country", "sector": "industry", "omvang": "size_band",
                    "golf": "wave", "startlanguage": "language",
                    "interviewtime": "duration_seconds", "ipaddr": "ip_address",
                    "naam": "name", "email": "email", "opmerkingen": "comment",
                    **{src: item for item, src in groups.items()}},
        "drop": ["seed"],
        "recode": {
            "country": {v: k for k, v in COUNTRY_NL.items()},
            "industry": {v: k for k, v in INDUSTRY_NL.items()},
            "size_band": {v: k for k, v in SIZE_NL.items()},
            "language": {"nl": "NL", "en": "EN"},
            ", ".join(i for i in items if cb.items[i].scale.type == "likert"):
                {v: k for k, v in LIKERT_NL.items()},
            ", ".join(i for i in items if cb.items[i].scale.type == "binary"):
                {v: k for k, v in YESNO_NL.items()},
        },
        "dont_know": ["Weet ik niet"],
        "exclude": [
            {"reason": "not submitted (incomplete)", "column": "submitdate", "equals": None},
            {"reason": "test response", "column": "email",
             "values": ["proefrespondent@disconnect-lab.example"]},
        ],
        "wave_years": wave_years,
    }
    mapping_file = folder / "mapping.yaml"
    write_yaml(mapping_file, mapping, "# Mapping voor de LimeSurvey-export (golf 2 en 3)")

    valid = [p for p in range(len(s)) if p not in incomplete]
    sv = s.iloc[valid]
    durations = frame["interviewtime"].iloc[valid].map(lambda v: float(v.replace(",", ".")))
    expected = expected_frame(
        sv, sv["id"].tolist(), sv["firm_id"].map(codes),
        {"role": sv["role"], "country": sv["country"], "industry": sv["industry"],
         "size_band": sv["size_band"], "wave": sv["wave"].astype(int),
         "language": sv["language"], "duration_seconds": durations.to_numpy(),
         "year": sv["wave"].map(wave_years)},
        ans.truth.iloc[valid])
    dk_valid = [(p, i) for p, i in ans.dont_know if p not in incomplete]
    personal = set(who.personal_values()) | set(test_person.personal_values()) | {
        "proefrespondent@disconnect-lab.example", "TESTRESPONS - niet meetellen"}
    truth = Truth(
        name=name, rows_read=len(frame), expected=expected,
        exclusions=[Exclusion("incomplete", r"not submitted", len(incomplete),
                              "not submitted (incomplete)"),
                    Exclusion("test", r"test response", 1, "test response")],
        dont_know=dont_know_frame(s["id"].tolist(), dk_valid),
        absent_items=[i for i in cb.items if i not in items], personal=sorted(personal),
        raw_ids=[], wave_years=wave_years)
    return _finish(name, folder, {"SURVEY": survey_file, "MAPPING": mapping_file}, truth, root)


# =========================================================================== d. one wave, English
LIKERT_EN = {1: "Strongly disagree", 2: "Somewhat disagree", 3: "Neither agree nor disagree",
             4: "Somewhat agree", 5: "Strongly agree"}
YESNO_EN = {0: "No", 1: "Yes"}
COUNTRY_EN = {"DE": "Germany", "AT": "Austria", "CH": "Switzerland", "NL": "Netherlands",
              "BE": "Belgium", "DK": "Denmark", "UK": "United Kingdom", "SE": "Sweden",
              "NO": "Norway"}
INDUSTRY_EN = {"Retail": "Retail & e-commerce",
               "Financial services": "Banking, insurance & financial services",
               "Manufacturing": "Manufacturing & industrial",
               "Telecom and media": "Telecoms & media",
               "Consumer goods": "Consumer packaged goods", "Health": "Healthcare & pharma",
               "Travel and hospitality": "Travel, leisure & hospitality"}
SIZE_EN = {"<250": "Fewer than 250", "250-999": "250 to 999", "1000-4999": "1,000 to 4,999",
           "5000+": "5,000 or more"}
ROLE_EN = {"CMO": "Chief Marketing Officer (CMO)", "CIO": "Chief Information Officer (CIO)"}
LEDGER_EN = {"firm_id": "Company", "booking_date": "Posting date", "cost_center": "Cost centre",
             "vendor": "Supplier", "vendor_category": "Spend category",
             "payment_method": "Payment method", "currency": "Currency", "amount": "Amount"}
TOO_FAST = 200  # seconds: the researcher's own rule against click-through responses
#: A one-wave Qualtrics survey has no wave column; set True to give the export an embedded-data
#: field "Wave" (= 1) mapped to wave, should the project decide that one is required.
D_WAVE_COLUMN = False


def qualtrics_en_one_wave(root: Path, *, firms: int = 80, seed: int = 9404,
                          ledger_rows: int = 6000) -> Export:
    """One-wave Qualtrics CSV (two header rows: no ImportId row), English labels, export tags
    chosen by the researcher, no wave column; unfinished responses kept; a too-fast rule;
    single-item constructs; budgets as CSV with English headers; a ledger with its own
    column names, FX table and vendor map."""
    cb = load_codebook()
    name = "qualtrics_en_one_wave"
    folder = root / "data" / "raw" / name
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    base = base_sample(firms, 1, seed, ledger_rows=ledger_rows)
    s = base.survey.reset_index(drop=True)
    s["language"] = "EN"  # an English questionnaire for every country
    items = item_ids(cb, without=["sales_2", "insight_2", "auton_1"])
    codes = firm_codes(rng, sorted(s["firm_id"].unique()), "ACME-")
    ids = qualtrics_ids(rng, len(s) + 1)
    s["ResponseId"] = ids[:len(s)]
    wave_years = {1: 2024}

    ans = answers(s, items, cb, rng, _label({"likert": LIKERT_EN, "binary": YESNO_EN}, cb),
                  "Don't know", dk_share=0.02, skip_share=0.02)
    who = people(rng, s["country"].tolist(), s["firm_id"].map(codes).tolist(), "EN")
    too_fast = set(np.flatnonzero(s["duration_seconds"].to_numpy() < TOO_FAST).tolist())
    assert too_fast, "the base sample must have responses below the too-fast threshold"
    candidates = [p for p in range(len(s)) if p not in too_fast]
    unfinished = sorted(rng.choice(candidates, 4, replace=False).tolist())
    progress, durations = {}, s["duration_seconds"].astype(float).copy()
    for pos in unfinished:  # kept (unfinished: keep): what they answered is analysed
        cut = int(rng.integers(len(items) // 3, 4 * len(items) // 5))
        for item in items[cut:]:
            ans.shown.iat[pos, ans.shown.columns.get_loc(item)] = None
            ans.truth.iat[pos, ans.truth.columns.get_loc(item)] = np.nan
        ans.dont_know = [(p, i) for p, i in ans.dont_know if not (p == pos and i in items[cut:])]
        progress[pos] = int(round(100 * (cut + 5) / (len(items) + 7)))
        durations.iat[pos] = float(rng.integers(300, 900))
        who.comment[pos] = None

    tag = {item: f"{item.split('_')[0].upper()}_Q{item.split('_')[1]}" for item in items}
    texts = {"ROLE": "What is your role?", "HQ": "Where is your company headquartered?",
             "SECTOR": "Which sector is your company in?",
             "EMPLOYEES": "How many people does your company employ?",
             "COMPANY": "Company code (from your invitation letter)",
             "FEEDBACK": "Anything else you would like to tell us?"}
    texts.update({src: "To what extent do you agree with the following statements? - "
                  + cb.items[item].wording["EN"] for item, src in tag.items()})
    texts.update(QUALTRICS_TEXT)
    dates = field_dates(rng, 2025, len(s), month=2)  # fielded early 2025 about fiscal 2024
    rows = []
    for pos, r in s.iterrows():
        finished = pos not in unfinished
        rows.append(_qualtrics_en_row(
            recorded=dates[pos], duration=int(durations.iat[pos]), status="IP Address",
            ip=who.ip[pos], progress=100 if finished else progress[pos], finished=finished,
            response_id=r["ResponseId"], last=who.last[pos], first=who.first[pos],
            email=who.email[pos], role=ROLE_EN[r["role"]], country=COUNTRY_EN[r["country"]],
            industry=INDUSTRY_EN[r["industry"]], size=SIZE_EN[r["size_band"]],
            answers=ans.shown.iloc[pos], tags=tag, comment=who.comment[pos],
            firm=codes[r["firm_id"]], rng=rng))
    preview = _qualtrics_en_row(
        recorded=datetime(2025, 1, 30, 17, 5, 0), duration=250, status="Survey Preview", ip="",
        progress=100, finished=True, response_id=ids[-1], last="", first="", email="",
        role=ROLE_EN["CIO"], country="Germany", industry=INDUSTRY_EN["Health"],
        size=SIZE_EN["<250"], answers=ans.shown.iloc[0], tags=tag,
        comment="preview - check the display logic", firm="", rng=rng)
    frame = pd.DataFrame([preview, *rows]).sort_values("RecordedDate", kind="stable")
    frame = frame.reset_index(drop=True)
    survey_file = folder / "cmo_cio_pulse_2025.csv"
    write_qualtrics_csv(survey_file, frame, texts, None)

    # budgets (CSV from controlling, two fiscal years) ------------------------------------------
    budgets = base.budgets[base.budgets["year"].isin([2023, 2024])].drop(
        columns=["synthetic"], errors="ignore").copy()
    for col in ("revenue", "it_budget", "marketing_budget", "martech_budget"):
        budgets[col] = budgets[col].round(2)
    budgets_file = folder / "budgets_fy2023_2024.csv"
    budgets.assign(firm_id=budgets["firm_id"].map(codes)).rename(columns={
        "firm_id": "Company code", "year": "Fiscal year", "currency": "Currency",
        "revenue": "Revenue", "it_budget": "IT budget", "marketing_budget": "Marketing budget",
        "martech_budget": "Martech budget"}).to_csv(budgets_file, index=False)

    # ledger, FX and vendor map -----------------------------------------------------------------
    ledger = base.ledger.copy()
    ledger["firm_id"] = ledger["firm_id"].map(codes)
    ledger_file = folder / "ap_and_card_lines.csv"
    ledger.rename(columns=LEDGER_EN).to_csv(ledger_file, index=False)
    fx_file = folder / "fx_rates.csv"
    base.fx.to_csv(fx_file, index=False)
    vendors_file = folder / "vendor_categories.csv"
    base.vendors.to_csv(vendors_file, index=False)

    mapping = {
        "source": "Qualtrics export (choice text), CMO-CIO pulse survey early 2025",
        "columns": {"ResponseId": "respondent_id", "COMPANY": "firm_id", "ROLE": "role",
                    "HQ": "country", "SECTOR": "industry", "EMPLOYEES": "size_band",
                    "UserLanguage": "language", "Duration (in seconds)": "duration_seconds",
                    "RecipientEmail": "email", "IPAddress": "ip_address",
                    "FEEDBACK": "comment", **{src: item for item, src in tag.items()},
                    **({"Wave": "wave"} if D_WAVE_COLUMN else {})},
        "drop": ["RecipientFirstName", "RecipientLastName", "LocationLatitude",
                 "LocationLongitude"],
        "recode": {
            "country": {v: k for k, v in COUNTRY_EN.items()},
            "industry": {v: k for k, v in INDUSTRY_EN.items()},
            "size_band": {v: k for k, v in SIZE_EN.items()},
            "agree5": {v: k for k, v in LIKERT_EN.items()},
            "yesno": {v: k for k, v in YESNO_EN.items()},
        },
        "dont_know": ["Don't know"],
        "unfinished": "keep",
        "exclude": [{"reason": f"too fast (under {TOO_FAST} seconds)",
                     "column": "duration_seconds", "below": TOO_FAST}],
        "wave_years": wave_years,
        "budgets": {"columns": {"Company code": "firm_id", "Fiscal year": "year",
                                "Currency": "currency", "Revenue": "revenue",
                                "IT budget": "it_budget", "Marketing budget": "marketing_budget",
                                "Martech budget": "martech_budget"}},
        "ledger": {"columns": {v: k for k, v in LEDGER_EN.items()}},
    }
    mapping_file = folder / "mapping.yaml"
    write_yaml(mapping_file, mapping, "# Mapping for the pulse survey (one wave, fiscal 2024)")

    valid = [p for p in range(len(s)) if p not in too_fast]
    sv = s.iloc[valid]
    expected = expected_frame(
        sv, sv["ResponseId"].tolist(), sv["firm_id"].map(codes),
        {"role": sv["role"], "country": sv["country"], "industry": sv["industry"],
         "size_band": sv["size_band"], "wave": 1, "language": "EN",
         "duration_seconds": durations.iloc[valid].to_numpy(), "year": 2024},
        ans.truth.iloc[valid])
    dk_valid = [(p, i) for p, i in ans.dont_know if p not in too_fast]
    personal = set(who.personal_values()) | {"preview - check the display logic"}
    truth = Truth(
        name=name, rows_read=len(frame), expected=expected,
        exclusions=[Exclusion("preview", r"preview", 1),
                    Exclusion("too_fast", r"too fast", len(too_fast),
                              f"too fast (under {TOO_FAST} seconds)")],
        dont_know=dont_know_frame(s["ResponseId"].tolist(), dk_valid),
        absent_items=["sales_2", "insight_2", "auton_1"], personal=sorted(personal),
        raw_ids=sorted(set(frame["ResponseId"]) | set(codes.values())),
        unfinished="keep", unfinished_kept=len(unfinished), wave_years=wave_years,
        budgets=budgets.assign(firm_id=budgets["firm_id"].map(codes)), ledger=True)
    return _finish(name, folder, {"SURVEY": survey_file, "MAPPING": mapping_file,
                                  "BUDGETS": budgets_file, "LEDGER": ledger_file,
                                  "FX": fx_file, "VENDORS": vendors_file}, truth, root)


def _qualtrics_en_row(*, recorded: datetime, duration: int, status: str, ip: str,
                      progress: int, finished: bool, response_id: str, last: str, first: str,
                      email: str, role: str, country: str, industry: str, size: str,
                      answers: pd.Series, tags: dict[str, str], comment: str | None, firm: str,
                      rng: np.random.Generator) -> dict[str, Any]:
    """One row of the English export: Qualtrics metadata, then the researcher's export tags."""
    start = recorded - timedelta(seconds=duration + int(rng.integers(0, 4)))
    row: dict[str, Any] = {
        "StartDate": stamp(start), "EndDate": stamp(recorded - timedelta(seconds=1)),
        "Status": status, "IPAddress": ip, "Progress": progress,
        "Duration (in seconds)": duration, "Finished": "True" if finished else "False",
        "RecordedDate": stamp(recorded), "ResponseId": response_id,
        "RecipientLastName": last, "RecipientFirstName": first, "RecipientEmail": email,
        "ExternalReference": "",
        "LocationLatitude": f"{rng.uniform(48.0, 57.5):.4f}" if ip else "",
        "LocationLongitude": f"{rng.uniform(-3.0, 15.0):.4f}" if ip else "",
        "DistributionChannel": "email" if email else "preview", "UserLanguage": "EN",
        "ROLE": role, "HQ": country, "SECTOR": industry, "EMPLOYEES": size, "COMPANY": firm,
    }
    if D_WAVE_COLUMN:
        row["Wave"] = 1
    for item, src in tags.items():
        row[src] = answers.get(item)
    row["FEEDBACK"] = comment or ""
    return row


# --------------------------------------------------------------------------- all of them
BUILDERS: dict[str, Callable[..., Export]] = {
    "qualtrics_de": qualtrics_de,
    "spss_efs": spss_efs,
    "limesurvey_half": limesurvey_half,
    "qualtrics_en_one_wave": qualtrics_en_one_wave,
}


def build(name: str, root: Path) -> Export:
    """Write one export (by name) into ``<root>/data/raw/<name>/``."""
    return BUILDERS[name](Path(root))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="a project root (or any folder)")
    parser.add_argument("names", nargs="*", default=list(BUILDERS), help="exports to build")
    args = parser.parse_args(argv)
    for name in args.names:
        export = build(name, args.out)
        args_text = " ".join(f"{k}={v}" for k, v in export.make_args.items())
        print(f"{name}: {export.truth.n_valid} valid of {export.truth.rows_read} rows; "
              f"make data {args_text}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
