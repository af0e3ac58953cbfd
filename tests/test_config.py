"""pipeline/config.py: the validated configuration object, its errors and its JSON Schema."""

from __future__ import annotations

import copy
import datetime as dt
import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from pipeline.config import config_from_dict, json_schema, load_config
from pipeline.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "examples" / "demo" / "disclosure.yaml"
SCHEMA = REPO / "schemas" / "disclosure.schema.json"

MINIMAL = {
    "entity": {"name": "T", "consolidation_approach": "operational_control", "currency": "EUR"},
    "period": "2026-Q3",
    "contracts": [
        {"id": "aws-main", "kind": "cloud", "provider": "aws"},
        {"id": "colo", "kind": "colocation", "provider": "Colo", "site": "s1",
         "certificates": [{"id": "GO-1", "type": "GO", "mwh": 10, "market": "GB", "vintage_year": 2026}]},
    ],
    "sites": [{"id": "s1", "grid_zone": "GB", "pue": 1.3, "meters": [{"id": "M1"}]}],
    "sources": [{"id": "bill", "kind": "focus", "path": "bill.csv", "contracts": ["aws-main"]},
                {"id": "jobs", "kind": "slurm_sacct", "path": "jobs.txt", "site": "s1"}],
}


def _data(**changes):
    d = copy.deepcopy(MINIMAL)
    d.update(changes)
    return d


def _error(data) -> ConfigError:
    with pytest.raises(ConfigError) as ei:
        config_from_dict(data, file="cfg.yaml")
    assert ei.value.exit_code == 2
    assert ei.value.file == "cfg.yaml"
    return ei.value


# --- period ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("label, start, end", [
    ("2026-Q3", dt.date(2026, 7, 1), dt.date(2026, 9, 30)),
    ("2026-Q1", dt.date(2026, 1, 1), dt.date(2026, 3, 31)),
    ("2024-Q1", dt.date(2024, 1, 1), dt.date(2024, 3, 31)),
    ("2026-Q4", dt.date(2026, 10, 1), dt.date(2026, 12, 31)),
    ("2026-Q2", dt.date(2026, 4, 1), dt.date(2026, 6, 30)),
])
def test_quarter_period(label, start, end):
    cfg = config_from_dict(_data(period=label))
    assert (cfg.period.start, cfg.period.end) == (start, end)
    assert cfg.period.label == label


def test_quarter_months():
    cfg = config_from_dict(_data(period="2026-Q3"))
    assert cfg.period.months() == ["2026-07", "2026-08", "2026-09"]


def test_explicit_start_end():
    cfg = config_from_dict(_data(period={"start": "2025-11-15", "end": "2026-02-10"}))
    assert (cfg.period.start, cfg.period.end) == (dt.date(2025, 11, 15), dt.date(2026, 2, 10))
    assert cfg.period.label == "2025-11-15 to 2026-02-10"
    assert cfg.period.months() == ["2025-11", "2025-12", "2026-01", "2026-02"]


def test_explicit_full_quarter_gets_quarter_label():
    cfg = config_from_dict(_data(period={"start": "2026-07-01", "end": "2026-09-30"}))
    assert cfg.period.label == "2026-Q3"


@pytest.mark.parametrize("bad", ["2026-Q5", "2026Q3", "Q3-2026", "2026-q3"])
def test_bad_period_string(bad):
    err = _error(_data(period=bad))
    assert f"period: period '{bad}' is not of the form 2026-Q3" in err.message


def test_period_end_before_start():
    err = _error(_data(period={"start": "2026-02-01", "end": "2026-01-31"}))
    assert "period end 2026-01-31 is before start 2026-02-01" in err.message


# --- unknown keys and bad values -----------------------------------------------------------------

@pytest.mark.parametrize("mutate, path", [
    (lambda d: d.update(colour="red"), "colour"),
    (lambda d: d["entity"].update(colour="red"), "entity.colour"),
    (lambda d: d["contracts"][0].update(colour="red"), "contracts[0].colour"),
    (lambda d: d["contracts"][1]["certificates"][0].update(colour="red"), "contracts[1].certificates[0].colour"),
    (lambda d: d["sites"][0]["meters"][0].update(colour="red"), "sites[0].meters[0].colour"),
    (lambda d: d["sources"][1].update(colour="red"), "sources[1].colour"),
])
def test_unknown_key_named_with_its_path(mutate, path):
    data = _data()
    mutate(data)
    err = _error(data)
    assert f"  - {path}: unknown key" in err.message


def test_several_problems_all_listed():
    data = _data()
    data["contracts"][0]["colour"] = 1
    data["entity"]["currency"] = "euro"
    err = _error(data)
    assert "contracts[0].colour: unknown key" in err.message
    assert "entity.currency:" in err.message


def test_source_naming_unknown_contract():
    data = _data()
    data["sources"][0]["contracts"] = ["nope"]
    err = _error(data)
    assert "sources[0] names contract 'nope', which is not under 'contracts' (known: aws-main, colo)" in err.message


def test_billing_source_naming_non_cloud_contract():
    data = _data()
    data["sources"][0]["contracts"] = ["colo"]
    err = _error(data)
    assert "sources[0] is billing but contract 'colo' is not kind 'cloud'" in err.message


def test_source_naming_unknown_site():
    data = _data()
    data["sources"][1]["site"] = "s9"
    err = _error(data)
    assert "sources[1] names site 's9', which is not under 'sites' (known: s1)" in err.message


def test_contract_naming_unknown_site():
    data = _data()
    data["contracts"][1]["site"] = "s9"
    err = _error(data)
    assert "contract 'colo' names site 's9'" in err.message


def test_supplier_factor_without_source():
    data = _data()
    data["contracts"][1]["supplier_factor_kg_per_kwh"] = 0.2
    err = _error(data)
    assert "contracts[1]: supplier_factor_kg_per_kwh needs supplier_factor_source" in err.message
    data["contracts"][1]["supplier_factor_source"] = "Supplier disclosure 2025"
    cfg = config_from_dict(data)
    assert cfg.contract("colo").supplier_factor_kg_per_kwh == pytest.approx(0.2, rel=1e-9)


@pytest.mark.parametrize("mutate, text", [
    (lambda d: d["entity"].update(timezone="Mars/Base"), "entity.timezone: unknown IANA time zone 'Mars/Base'"),
    (lambda d: d["contracts"][0].update(site="s1"), "a cloud contract has no 'site'"),
    (lambda d: d["contracts"][1].pop("site"), "a colocation contract needs 'site'"),
    (lambda d: d["sources"][0].update(contracts=[]), "a billing or provider-carbon source needs 'contracts'"),
    (lambda d: d["sources"][1].pop("site"), "a slurm_sacct source needs 'site'"),
    (lambda d: d["sites"][0].update(pue=0.9), "sites[0].pue:"),
    (lambda d: d["contracts"].append(dict(d["contracts"][0])), "duplicate contract id(s): aws-main"),
    (lambda d: d.update(sources=[]), "sources:"),
    (lambda d: d["sources"][0].update(kind="cur"), "sources[0].kind:"),
])
def test_invalid_values(mutate, text):
    data = _data()
    mutate(data)
    assert text in _error(data).message


def test_not_a_mapping():
    with pytest.raises(ConfigError) as ei:
        config_from_dict(["a", "list"], file="cfg.yaml")
    assert "must be a mapping" in ei.value.message


# --- files ---------------------------------------------------------------------------------------------

def test_missing_file(tmp_path):
    missing = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError) as ei:
        load_config(missing)
    assert ei.value.message == "config file not found"
    assert ei.value.file == str(missing)


def test_invalid_yaml_names_the_line(tmp_path):
    p = tmp_path / "bad.yaml"
    # line 3 has an unclosed flow sequence
    p.write_text("entity:\n  name: T\nperiod: [2026-Q3\ncontracts: []\n", encoding="utf-8")
    with pytest.raises(ConfigError) as ei:
        load_config(p)
    err = ei.value
    assert err.message.startswith("not valid YAML")
    # PyYAML reports where it noticed the problem: the line after the unclosed '[' (line 4)
    assert err.row == 4
    assert f"{p}, row 4: not valid YAML" in err.render()


def test_invalid_yaml_tab_indentation(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text("entity:\n\tname: T\n", encoding="utf-8")
    with pytest.raises(ConfigError) as ei:
        load_config(p)
    assert ei.value.row == 2


def test_not_utf8(tmp_path):
    p = tmp_path / "latin1.yaml"
    p.write_bytes("entity:\n  name: Caf\xe9\n".encode("latin-1"))
    with pytest.raises(ConfigError) as ei:
        load_config(p)
    assert "not UTF-8" in ei.value.message


def test_relative_paths_resolve_against_config_folder(tmp_path):
    sub = tmp_path / "conf"
    sub.mkdir()
    p = sub / "d.yaml"
    p.write_text(yaml.safe_dump(MINIMAL), encoding="utf-8")
    cfg = load_config(p)
    assert cfg.resolve("bill.csv") == sub.resolve() / "bill.csv"
    assert cfg.resolve("/abs/x.csv") == Path("/abs/x.csv")


def test_demo_config_loads():
    cfg = load_config(DEMO)
    assert cfg.entity.name == "Northwind Intelligence Ltd"
    assert (cfg.period.start, cfg.period.end) == (dt.date(2026, 7, 1), dt.date(2026, 9, 30))
    assert [c.id for c in cfg.contracts] == ["aws-main", "azure-main", "lon-colo"]
    assert cfg.contract("lon-colo").certificates[0].mwh == pytest.approx(81.3, rel=1e-9)
    assert [m.id for m in cfg.site("lon-colo-1").meters] == ["LON1-PDU-A", "LON1-PDU-B"]
    assert [s.kind for s in cfg.sources] == ["focus", "azure_cost", "aws_carbon", "slurm_sacct", "dcgm", "meter_readings",
                                             "asset_register", "grid_intensity_hourly", "certificate_generation_hourly"]
    assert cfg.base_dir == DEMO.resolve().parent


# --- JSON Schema ------------------------------------------------------------------------------------

def test_committed_schema_in_sync():
    text = json.dumps(json_schema(), indent=2, sort_keys=True) + "\n"
    assert SCHEMA.read_text(encoding="utf-8") == text, \
        "regenerate with: carbon-disclosure schema --write schemas/disclosure.schema.json"


def test_schema_hides_internal_fields():
    props = json_schema()["properties"]
    assert "base_dir" not in props and "config_path" not in props
    assert {"entity", "period", "contracts", "sources"} <= set(props)


def test_schema_rejects_unknown_top_level_key():
    data = yaml.safe_load(DEMO.read_text(encoding="utf-8"))
    data["colour"] = "red"
    data["period"] = {"start": "2026-07-01", "end": "2026-09-30"}
    errors = list(jsonschema.Draft202012Validator(json_schema()).iter_errors(data))
    assert any("colour" in e.message for e in errors)


def test_demo_validates_with_explicit_period_object():
    data = yaml.safe_load(DEMO.read_text(encoding="utf-8"))
    data["period"] = {"start": "2026-07-01", "end": "2026-09-30"}
    jsonschema.validate(data, json_schema(), cls=jsonschema.Draft202012Validator)


def test_demo_config_validates_against_json_schema():
    data = yaml.safe_load(DEMO.read_text(encoding="utf-8"))
    jsonschema.validate(data, json.loads(SCHEMA.read_text(encoding="utf-8")), cls=jsonschema.Draft202012Validator)


def test_excluding_a_scope3_category_needs_a_reason():
    base = {"entity": {"name": "T", "consolidation_approach": "operational_control", "currency": "EUR"},
            "period": "2026-Q3", "contracts": [{"id": "c", "kind": "cloud", "provider": "aws"}],
            "sources": [{"kind": "focus", "path": "x.csv", "contracts": ["c"]}]}
    with pytest.raises(ConfigError) as ei:
        config_from_dict({**base, "scope3": {"category2": {"include": False}}})
    assert "scope3.category2" in str(ei.value) and "exclude_reason" in str(ei.value)
    cfg = config_from_dict({**base, "scope3": {"category3": {"include": False,
                                                             "exclude_reason": "no Scope 2 electricity in the boundary"}}})
    assert cfg.scope3.category3.include is False and cfg.scope3.category2.include is True
