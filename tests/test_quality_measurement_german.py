"""Reports 00 (data quality) and 01 (measurement) rendered in German, end to end.

Each report is rendered in a fresh kernel with ``language="DE"`` on a small synthetic sample (the
same processed data the other report tests reshape, ``report_variants``), and the test checks
what a German reader sees: known German sentences generated from the numbers, decimal commas in
the tables, and that no English sentence of the catalogs these reports draw on (the notebooks'
markdown and code, ``helpers.quality``, ``helpers.scales``, ``helpers.measurement``) is left.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
import report_variants as rv

from helpers import i18n

pytestmark = pytest.mark.slow

DOMAINS = ("nb-00_data_quality", "nb-01_measurement", "quality", "scales", "measurement.report",
           "measurement.cfa", "measurement.spec")
EXCLUSIONS = pd.DataFrame({
    "step": ["qualtrics", "qualtrics", "mapping"],
    "reason": ["Qualtrics survey preview", "unfinished response", "forwarded-link duplicate"],
    "rule": ["Status is Survey Preview (1)", "Finished is false (0) or Progress < 100",
             "response_id in [R_9x]"],
    "n_rows": [3, 7, 6],
})


@pytest.fixture(scope="module")
def processed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = rv.base_processed(tmp_path_factory.mktemp("german_base"))
    n = len(pd.read_parquet(base / "survey.parquet"))
    return rv.variant(base, base.parent / "german", flags={"speeder": 12, "straight_lining": 22},
                      exclusions=EXCLUSIONS, dont_know={"trust_2": 6},
                      row_selection={"unfinished": "exclude", "rows_read": n + 16,
                                     "rows_kept": n, "unfinished_rows": 7})


@pytest.fixture(scope="module")
def quality_de(processed: Path, tmp_path_factory: pytest.TempPathFactory) -> rv.Run:
    return rv.run("00_data_quality", processed, tmp_path_factory.mktemp("quality_de"),
                  language="DE")


@pytest.fixture(scope="module")
def measurement_de(processed: Path, tmp_path_factory: pytest.TempPathFactory) -> rv.Run:
    return rv.run("01_measurement", processed, tmp_path_factory.mktemp("measurement_de"),
                  language="DE")


def _plain(text: str) -> str:
    """Message text as it reads on the page: no markdown marks, whitespace collapsed."""
    text = re.sub(r"^#+\s*", "", text, flags=re.M)
    text = text.replace("`", "").replace("**", "")
    return re.sub(r"\s+", " ", text).strip()


def english_sentences() -> list[tuple[str, str]]:
    """(domain, sentence) for every English sentence of the catalogs that has a German
    translation different from it: pieces of five words or more between placeholders."""
    from babel.messages.pofile import read_po

    out = []
    for domain in DOMAINS:
        with (i18n.LOCALE_DIR / "de" / "LC_MESSAGES" / f"{domain}.po").open("rb") as fh:
            catalog = read_po(fh)
        for message in catalog:
            if not message.id:
                continue
            ids = message.id if isinstance(message.id, (list, tuple)) else (message.id,)
            strings = message.string if isinstance(message.string, (list, tuple)) \
                else (message.string,)
            german = " ".join(_plain(s) for s in strings if s)
            for msgid in ids:
                for piece in re.split(r"\{[^{}]*\}|(?<=[.:;!?])\s+", _plain(msgid)):
                    piece = piece.strip(" ,;:.()")
                    if len(piece.split()) >= 5 and piece not in german:
                        out.append((domain, piece))
    return out


def test_the_german_catalogs_have_sentences_to_check() -> None:
    sentences = english_sentences()
    assert len(sentences) > 100  # the check below is not vacuous
    assert any("Nothing was recorded about which rows" in s for _, s in sentences)


@pytest.mark.parametrize("report", ["quality_de", "measurement_de"])
def test_no_english_sentence_is_left(report: str, request: pytest.FixtureRequest) -> None:
    run: rv.Run = request.getfixturevalue(report)
    assert run.status == "ok", run.text[-2000:]
    # the methods note is the report template's (summarising the notebook in its own words,
    # checked with the template's catalog); everything else on the page is these catalogs'
    page = rv.visible_text(re.sub(r'<section[^>]*class="dl-methods".*?</section>', " ", run.html,
                                  flags=re.S))
    left = sorted({s for _, s in english_sentences() if s in page})
    assert not left, left[:10]


def _tables(html: str) -> list[str]:
    return re.findall(r"<table\b.*?</table>", html, flags=re.S)


def test_data_quality_in_german(quality_de: rv.Run, processed: Path) -> None:
    text = quality_de.text
    n = len(pd.read_parquet(processed / "survey.parquet"))
    assert "Die Stichprobe auf einen Blick" in text
    assert (f"make data hat {i18n.integer(n + 16, 'DE')} Zeilen aus dem Export gelesen und "
            f"{i18n.integer(n, 'DE')} für die Analyse behalten.") in text
    assert "Zeilen wurden aus 3 Gründen ausgeschlossen (Tabelle unten)." in text
    assert ("Unvollständige Antworten wurden ausgeschlossen: Die Einstellung unfinished: exclude "
            "ist der Standard") in text
    assert "Kernzahl mit und ohne markierte Befragte (dieses Segment)" in text
    assert "Differenz CMO − CIO innerhalb des Unternehmens auf dem Disconnect-Index, alle " \
        "Befragten: " in text
    assert "Items mit fehlenden Antworten" in text  # the "don't know" answers to trust_2
    assert "Validierungswarnungen (gesamte Datei, nicht nur dieses Segment)" in text
    # numbers in the reader's locale: the sensitivity table's differences with a decimal comma
    sensitivity = next(t for t in _tables(quality_de.html) if "Analysestichprobe" in t)
    assert re.search(r"[−-]?\d,\d{3}\b", sensitivity)
    assert not re.search(r"\b\d\.\d{3}\b", rv.visible_text(sensitivity))
    # the results keep their codes for the index and other reports
    sens = rv.table(quality_de.results, "sensitivity")
    assert "alle Befragten" in set(sens["analysis"])


def test_measurement_in_german(measurement_de: rv.Run) -> None:
    text = measurement_de.text
    assert re.search(r"\d+ Konstrukte vollständig gestellt, \d+ mit weniger Items, \d+ nicht "
                     r"gestellt", text)
    assert re.search(r"Das Messmodell (passt gut|passt akzeptabel|passt nicht akzeptabel|ist "
                     r"nicht schätzbar)", text)
    assert "Grenzwerte: gut bei CFI und TLI ≥ ,95" in text
    assert "Harmans Ein-Faktor-Test" in text or "Das Methodenfaktormodell" in text
    assert "Tabelle 1: Konstruktwerte, alle Befragten" in text
    fit = next(t for t in _tables(measurement_de.html) if "SRMR" in t and "Modell" in t)
    assert re.search(r"\b0,\d{3}\b", fit)  # CFI, RMSEA with a decimal comma
    assert not re.search(r"\b0\.\d{3}\b", rv.visible_text(fit))
    verdicts = {r["level"] for r in measurement_de.results["invariance_verdicts"]["rows"]}
    from helpers.measurement.report import LEVELS
    assert verdicts <= set(LEVELS)  # codes in the results file, words on the page
    assert "[alpha-no-overlap]" not in text and "alpha-no-overlap" not in text
