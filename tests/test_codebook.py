"""The codebook is complete, consistent with the reference data, and rejects malformed edits."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml

from helpers import paths
from helpers.codebook import load_codebook
from helpers.errors import DataError


@pytest.fixture(scope="module")
def cb():
    return load_codebook()


def test_required_fields_and_roles(cb) -> None:
    for name in ("respondent_id", "firm_id", "role", "country", "industry", "size_band", "wave",
                 "language"):
        assert cb.fields[name].required, name
    assert cb.fields["role"].values == ("CMO", "CIO")
    assert set(cb.languages) == {"EN", "DE", "NL", "DA"}


def test_category_values_survive_yaml(cb) -> None:
    # YAML 1.1 reads unquoted NO (Norway) as False: every category value must stay a code
    assert "NO" in cb.fields["country"].values
    for f in cb.fields.values():
        for v in f.values or ():
            assert v not in {"True", "False", "None"}, (f.name, v)


def test_personal_fields_are_flagged(cb) -> None:
    assert set(cb.pii_fields) >= {"name", "email", "comment", "ip_address"}
    assert not any(cb.fields[f].pii for f in cb.required_fields)


def test_constructs_from_the_guide_are_present(cb) -> None:
    expected = {
        "importance_alignment", "collaboration_level", "mutual_trust", "shared_understanding_own",
        "shared_understanding_predicted", "speed_friction", "requirements_friction",
        "bypass_standards", "data_autonomy", "it_service_orientation", "cofunded_projects",
        "shared_kpis", "joint_agile_teams", "data_ownership", "sales_involvement",
        "data_readiness", "joint_project_success", "customer_insight", "relationship_improved",
    }
    assert expected <= set(cb.constructs)
    assert len(cb.constructs) >= 12
    assert {c.kind for c in cb.constructs.values()} == {"indicator", "driver", "outcome"}


def test_every_item_has_wording_in_every_language_and_a_valid_scale(cb) -> None:
    for item in cb.items.values():
        for lang in cb.languages:
            assert item.wording[lang].strip(), (item.id, lang)
        assert item.scale.min < item.scale.max
        assert set(item.scale.top_box) <= set(item.scale.values)
    # wording differs between languages (no untranslated copies)
    for item in cb.items.values():
        assert len({item.wording[lang] for lang in cb.languages}) == len(cb.languages), item.id


def test_reverse_keyed_and_role_specific_items_exist(cb) -> None:
    assert any(i.reverse for i in cb.items.values())
    assert cb.item_ids(role="CIO") != cb.item_ids(role="CMO")
    assert "req_2" in cb.item_ids(role="CIO") and "req_2" not in cb.item_ids(role="CMO")


def test_reverse_scoring_uses_the_scale_range(cb) -> None:
    trust_3 = cb.items["trust_3"]
    assert trust_3.reverse
    assert list(trust_3.score(pd.Series([1, 2, 5]))) == [5, 4, 1]
    assert cb.items["trust_1"].score(4) == 4


def test_benchmark_links_point_to_published_percent_figures(cb) -> None:
    ref = pd.read_csv(paths.REFERENCE / "published_figures.csv").set_index("figure_id")
    linked = 0
    for item in cb.items.values():
        for role, figure in item.benchmark.items():
            assert figure in ref.index, f"{item.id}: unknown figure {figure}"
            row = ref.loc[figure]
            assert row["unit"] == "percent", figure
            assert role == "all" or row["group"] == role, (item.id, figure)
            linked += 1
    assert linked >= 15


def test_labels_follow_the_language(cb) -> None:
    assert cb.label("mutual_trust", "DE") == "Gegenseitiges Vertrauen"
    assert cb.label("wave", "DA") == "Bølge"
    assert cb.value_labels("imp_1", "NL")[5] == "Helemaal mee eens"
    with pytest.raises(ValueError, match="language"):
        cb.label("imp_1", "FR")


def _broken_copy(tmp_path: Path, edit) -> Path:
    raw = yaml.safe_load(paths.CODEBOOK.read_text(encoding="utf-8"))
    edit(raw)
    path = tmp_path / "codebook.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("edit", "rule"),
    [
        (lambda r: r["items"][0].update(construct="no_such_construct"), "codebook-construct"),
        (lambda r: r["items"][1].update(id=r["items"][0]["id"]), "codebook-item-id"),
        (lambda r: r["items"][0]["wording"].pop("DA"), "codebook-wording"),
        (lambda r: r["items"][0].update(roles=["CEO"]), "codebook-roles"),
        (lambda r: r["scales"]["agree5"].update(top_box=[6]), "codebook-top-box"),
    ],
)
def test_malformed_codebook_names_file_and_rule(tmp_path: Path, edit, rule: str) -> None:
    path = _broken_copy(tmp_path, edit)
    with pytest.raises(DataError) as err:
        load_codebook(path)
    assert err.value.rule == rule
    assert str(path.resolve()) in str(err.value)


def test_constructs_and_items_present_follow_the_data(cb) -> None:
    """What a survey asked: a column with at least one answer; reports build on these lists."""
    df = pd.DataFrame({"role": ["CMO", "CIO"], "trust_1": [4.0, 2.0], "trust_2": [None, 3.0],
                       "ready_1": [1.0, 2.0], "ready_2": [None, None],  # column, no answer
                       "cofund_1": [1.0, 0.0], "improved_1": [4.0, 5.0]})
    assert cb.items_present(df, "mutual_trust") == ["trust_1", "trust_2"]
    assert cb.items_absent(df, "mutual_trust") == ["trust_3"]
    assert cb.items_present(df, "data_readiness") == ["ready_1"]
    assert cb.items_present(df, among=["fail_1", "improved_1"]) == ["improved_1"]
    assert cb.constructs_present(df, kind="driver") == ["cofunded_projects", "data_readiness"]
    assert "sales_involvement" in cb.constructs_absent(df, kind="driver")
    assert cb.constructs_present(df, kind="indicator") == ["mutual_trust"]
    assert cb.constructs_present(df) == ["mutual_trust", "cofunded_projects", "data_readiness",
                                         "relationship_improved"]
    # a parameter list is filtered to what was asked, kept in codebook order
    assert cb.constructs_present(df, kind="driver", among=["data_readiness", "sales_involvement",
                                                           "cofunded_projects"]) == [
        "cofunded_projects", "data_readiness"]
    assert cb.constructs_absent(df, among=["sales_involvement", "mutual_trust"]) == [
        "sales_involvement"]
    with pytest.raises(KeyError, match="sales_involvment"):
        cb.constructs_present(df, among=["sales_involvment"])
    with pytest.raises(ValueError, match="kind"):
        cb.constructs_present(df, kind="drivers")
    assert cb.is_binary("cofunded_projects") and not cb.is_binary("data_readiness")


def test_needs_items_names_what_a_section_lacks(cb) -> None:
    import pandas as pd

    df = pd.DataFrame({"improved_1": [3.0, None], "fail_1": [None, None]})
    assert cb.needs_items(df, ["improved_1"]) is None
    assert cb.needs_items(df, ["fail_1"]) == (
        "item fail_1 (failed or late joint project), which the survey did not ask")
    assert cb.needs_items(df.drop(columns="improved_1"), ["improved_1", "fail_1"]).startswith(
        "items improved_1 (relationship improved), fail_1 (")
