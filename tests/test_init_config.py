"""pipeline/init_config.py: recognise a folder of exports and write a draft config whose questions block a run."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

import pytest
import yaml

from pipeline import ingest
from pipeline.check_inputs import check_inputs
from pipeline.cli import main
from pipeline.config import config_from_dict, load_config
from pipeline.errors import ConfigError, InputError, OutputError
from pipeline.init_config import (
    PLACEHOLDER,
    TEXT_PLACEHOLDER,
    scan,
    summary_text,
    unanswered,
    write_config,
)

REPO = Path(__file__).resolve().parents[1]
DEMO_DATA = REPO / "examples" / "demo" / "data"

# every file of the fixture folder -> the kind it must be recognised as (None: not recognised)
EXPECTED = {
    "assets/asset_register_2026.csv": "asset_register",
    "billing/aws_focus_2026Q3.csv": "focus",
    "billing/azure_ea_2026Q3.csv": "azure_cost",
    "carbon/aws_carbon_emissions_2026Q3.csv": "aws_carbon",
    "hourly/gb_intensity_2026Q3_SYNTHETIC.csv": "grid_intensity_hourly",
    "hourly/ppa_solar_generation_2026Q3.csv": "certificate_generation_hourly",
    "junk.csv": None,
    "meters/lon-colo-1_2026Q3.csv": "meter_readings",
    "requests/request_counts_2026Q3.csv": None,
    "slurm/lon-colo-1_sacct_2026Q3.txt": "slurm_sacct",
    "telemetry/gpu004_dcgm_2026-07.json": "dcgm",
}

# the questions the demo's files leave open (sources are sorted by path: the meter file is sources[6])
QUESTIONS = {
    "entity.name", "entity.consolidation_approach", "entity.currency", "entity.timezone", "period",
    "contracts[2].kind", "contracts[2].provider", "contracts[2].electricity_purchaser", "contracts[2].lease",
    "sites[0].grid_zone", "sites[0].timezone", "sites[0].pue", "sites[0].pue_source",
    "sites[0].meters[0].measures", "sites[0].meters[1].measures", "sources[6].reading_kind",
}

# what a user answers, by key name (the demo's own values)
ANSWERS = {
    "name": "Northwind Intelligence Ltd", "consolidation_approach": "operational_control", "currency": "EUR",
    "timezone": "Europe/London", "period": "2026-Q3", "kind": "colocation", "provider": "Thames Colo",
    "electricity_purchaser": "company", "lease": "operating", "grid_zone": "GB", "pue": 1.35,
    "pue_source": "Operator's 2025 annual PUE statement", "measures": "it_load", "reading_kind": "interval",
}


def _trimmed_dcgm(src: Path, dst: Path, values: int = 96) -> None:
    """The demo's DCGM query response cut to its first day. Each series is kept; the full month makes a
    500 KB single-line file that the CSV adapters' header checks take minutes to reject (see the report)."""
    doc = json.loads(src.read_text(encoding="utf-8"))
    for series in doc["data"]["result"]:
        series["values"] = series["values"][:values]
    dst.write_text(json.dumps(doc), encoding="utf-8")


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("init")


@pytest.fixture(scope="module")
def inputs(root) -> Path:
    folder = root / "inputs"
    for rel in EXPECTED:
        src, dst = DEMO_DATA / rel, folder / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        if rel.endswith("dcgm_2026-07.json"):
            _trimmed_dcgm(src, dst)
        elif src.is_file():
            shutil.copy(src, dst)
    (folder / "junk.csv").write_text("colour,flavour\nred,cherry\n", encoding="utf-8")
    (folder / ".hidden.csv").write_text("meter_id,timestamp,energy,unit\n", encoding="utf-8")
    (folder / ".cache").mkdir()
    shutil.copy(DEMO_DATA / "meters" / "lon-colo-1_2026Q3.csv", folder / ".cache" / "old.csv")
    return folder


@pytest.fixture(scope="module")
def found(inputs):
    return scan(inputs)


@pytest.fixture(scope="module")
def written(root, inputs, found) -> Path:
    # the config sits in another folder than the inputs: its paths must be relative to its own folder
    out = root / "cfg" / "draft" / "disclosure.yaml"
    return write_config(inputs, found, out)


def _answer(data: object, key: str = "") -> object:
    if data == PLACEHOLDER or data == TEXT_PLACEHOLDER:
        return ANSWERS[key]
    if isinstance(data, dict):
        return {k: _answer(v, k) for k, v in data.items()}
    if isinstance(data, list):
        return [_answer(v, key) for v in data]
    return data


# --- scan -----------------------------------------------------------------------------------------------

def test_scan_lists_every_visible_file_sorted(found):
    assert [f.path for f in found] == sorted(EXPECTED)


@pytest.mark.parametrize("rel", sorted(EXPECTED))
def test_scan_recognises_each_file(found, rel):
    f = next(f for f in found if f.path == rel)
    assert f.kind == EXPECTED[rel]
    assert (f.reason is None) == (f.kind is not None)


def test_scan_gives_the_reason_a_file_is_not_recognised(found):
    junk = next(f for f in found if f.path == "junk.csv")
    assert "matches no supported format" in junk.reason and "colour, flavour" in junk.reason
    counts = next(f for f in found if f.path == "requests/request_counts_2026Q3.csv")
    assert "projections.request_counts" in counts.reason


def test_scan_hints_from_the_files(found):
    by = {f.path: f.hints for f in found}
    assert by["billing/aws_focus_2026Q3.csv"].accounts == {"aws": ("210987654321",)}
    assert by["billing/aws_focus_2026Q3.csv"].first == "2026-07-01"
    assert by["billing/aws_focus_2026Q3.csv"].last == "2026-09-30"
    assert by["billing/azure_ea_2026Q3.csv"].accounts == {"azure": ("71234567",)}
    assert by["carbon/aws_carbon_emissions_2026Q3.csv"].accounts == {"aws": ("210987654321",)}
    assert by["meters/lon-colo-1_2026Q3.csv"].meters == ("LON1-PDU-A", "LON1-PDU-B")
    assert by["meters/lon-colo-1_2026Q3.csv"].interval_minutes == 60
    assert by["meters/lon-colo-1_2026Q3.csv"].looks_cumulative is False
    assert by["telemetry/gpu004_dcgm_2026-07.json"].hosts == ("gpu004",)
    assert by["telemetry/gpu004_dcgm_2026-07.json"].sample_step_s == pytest.approx(900.0, rel=1e-9)
    assert by["slurm/lon-colo-1_sacct_2026Q3.txt"].gpu_models == ("h100",)
    assert by["hourly/gb_intensity_2026Q3_SYNTHETIC.csv"].zones == ("GB",)
    assert by["hourly/ppa_solar_generation_2026Q3.csv"].instruments == ("PPA-LON-SOLAR-01",)


def test_scan_never_stops_on_a_bad_file(tmp_path, monkeypatch):
    shutil.copy(DEMO_DATA / "meters" / "lon-colo-1_2026Q3.csv", tmp_path / "a_meters.csv")
    (tmp_path / "b_empty.csv").write_bytes(b"")
    (tmp_path / "c_binary.bin").write_bytes(bytes(range(256)) * 4)
    (tmp_path / "d_latin1.csv").write_bytes("zone,caf\xe9\n".encode("latin-1"))
    (tmp_path / "e_workbook.xlsx").write_bytes(b"PK\x03\x04" + b"\x00" * 64)
    (tmp_path / "f_crash.csv").write_text("x,y\n1,2\n", encoding="utf-8")
    real = ingest.sniff

    def sniff(path, label):                       # an adapter bug on one file
        if label == "f_crash.csv":
            raise KeyError("boom")
        return real(path, label)

    monkeypatch.setattr(ingest, "sniff", sniff)
    found = {f.path: f for f in scan(tmp_path)}
    assert found["a_meters.csv"].kind == "meter_readings"
    assert found["b_empty.csv"].reason == "the file is empty"
    assert "binary" in found["c_binary.bin"].reason
    assert "not UTF-8" in found["d_latin1.csv"].reason
    assert "ZIP" in found["e_workbook.xlsx"].reason
    assert "KeyError" in found["f_crash.csv"].reason and "report" in found["f_crash.csv"].reason


def test_large_files_are_recognised_from_their_first_rows(tmp_path):
    shutil.copy(DEMO_DATA / "billing" / "aws_focus_2026Q3.csv", tmp_path / "focus.csv")
    (f,) = scan(tmp_path, sample_above_bytes=10_000, sample_rows=50)
    assert f.kind == "focus"
    assert f.hints.sampled and f.hints.rows == 50
    assert f.hints.last < "2026-09-30"                     # a sample: the span is partial, and says so
    assert "first 50 rows" in summary_text([f])


def test_scan_refuses_a_missing_folder(tmp_path):
    with pytest.raises(InputError, match="is not a folder"):
        scan(tmp_path / "nope")


def test_summary_text_one_line_per_file(found):
    lines = summary_text(found).splitlines()
    assert len(lines) == len(found) + 1
    for f, line in zip(found, lines):
        assert line.startswith(f.path)
        assert (f.kind in line) if f.kind else ("not recognised: " in line)
    assert lines[-1] == f"{len(found)} file(s): 9 recognised, 2 not recognised"


# --- write_config -----------------------------------------------------------------------------------------

def test_written_yaml_has_every_recognised_file_with_kind_and_relative_path(written, inputs):
    data = yaml.safe_load(written.read_text(encoding="utf-8"))
    sources = {s["path"]: s["kind"] for s in data["sources"]}
    expected = {f"../../inputs/{rel}": kind for rel, kind in EXPECTED.items() if kind}
    assert sources == expected
    for path in sources:                                   # relative to the config's folder
        assert (written.parent / path).resolve() == (inputs / path.removeprefix("../../inputs/")).resolve()


def test_written_yaml_links_contracts_sites_and_meters(written):
    data = yaml.safe_load(written.read_text(encoding="utf-8"))
    contracts = {c["id"]: c for c in data["contracts"]}
    assert contracts["aws-main"]["provider"] == "aws" and contracts["aws-main"]["kind"] == "cloud"
    assert contracts["aws-main"]["billing_accounts"] == ["210987654321"]
    assert contracts["azure-main"]["billing_accounts"] == ["71234567"]
    by_kind = {s["kind"]: s for s in data["sources"]}
    assert by_kind["focus"]["contracts"] == ["aws-main"]
    assert by_kind["aws_carbon"]["contracts"] == ["aws-main"]
    assert by_kind["azure_cost"]["contracts"] == ["azure-main"]
    for kind in ("slurm_sacct", "meter_readings", "dcgm"):
        assert by_kind[kind]["site"] == data["sites"][0]["id"]
    assert [m["id"] for m in data["sites"][0]["meters"]] == ["LON1-PDU-A", "LON1-PDU-B"]
    assert by_kind["meter_readings"]["interval_minutes"] == 60
    assert by_kind["dcgm"]["max_gap_s"] > 900              # 15-minute samples: the 120 s default would be all gaps


def test_unrecognised_files_are_listed_with_their_reason(written):
    text = written.read_text(encoding="utf-8")
    block = text.split("Files not recognised")[1]
    assert "../../inputs/junk.csv" in block and "matches no supported format" in block
    assert "../../inputs/requests/request_counts_2026Q3.csv" in block
    assert ".hidden" not in text and ".cache" not in text


def test_every_question_is_marked_beside_its_placeholder(written):
    lines = written.read_text(encoding="utf-8").splitlines()
    with_placeholder = [ln for ln in lines if not ln.lstrip().startswith("#") and PLACEHOLDER in ln]
    assert with_placeholder and all("# QUESTION:" in ln for ln in with_placeholder)
    data = yaml.safe_load("\n".join(lines))
    assert set(unanswered(data)) == QUESTIONS
    assert len([ln for ln in lines if "# QUESTION:" in ln and not ln.lstrip().startswith("#")]) == len(QUESTIONS)


def test_load_config_fails_naming_each_unanswered_key(written):
    with pytest.raises(ConfigError) as exc:
        load_config(written)
    message = str(exc.value)
    assert "unanswered question(s)" in message and "ANSWER-ME" in exc.value.render()
    for key in QUESTIONS:
        assert f"  - {key}\n" in message + "\n", key


@pytest.mark.parametrize("left_open", sorted(QUESTIONS))
def test_each_placeholder_alone_fails_validation(written, left_open):
    """Answer every question but one: the config is still refused, and names that key."""
    data = yaml.safe_load(written.read_text(encoding="utf-8"))
    answered = _answer(data)
    keep = _get(data, left_open)
    _set(answered, left_open, keep)
    with pytest.raises(ConfigError) as exc:
        config_from_dict(answered, file=str(written), base_dir=written.parent)
    assert f"left by `carbon-disclosure init`:\n  - {left_open}\n" in str(exc.value)   # the one open question, named


def test_answered_draft_is_a_valid_config(written, inputs):
    data = _answer(yaml.safe_load(written.read_text(encoding="utf-8")))
    assert unanswered(data) == []
    cfg = config_from_dict(data, file=str(written), base_dir=written.parent)
    assert cfg.entity.name == "Northwind Intelligence Ltd"
    assert cfg.period.label == "2026-Q3"
    assert {c.id for c in cfg.contracts} == {"aws-main", "azure-main", "site-1-facility"}
    assert cfg.contract_for_site("site-1").kind == "colocation"
    assert all(cfg.resolve(s.path).is_file() for s in cfg.sources)


def test_an_existing_file_is_not_overwritten_without_force(tmp_path, found, inputs):
    out = tmp_path / "disclosure.yaml"
    out.write_text("# mine\n", encoding="utf-8")
    with pytest.raises(OutputError) as exc:
        write_config(inputs, found, out)
    assert exc.value.file == str(out) and "--force" in exc.value.fix
    assert out.read_text(encoding="utf-8") == "# mine\n"
    write_config(inputs, found, out, force=True)
    assert "# QUESTION:" in out.read_text(encoding="utf-8")
    assert [p.name for p in tmp_path.iterdir()] == ["disclosure.yaml"]   # no temporary file left


def test_a_previous_draft_in_the_folder_is_not_a_source(tmp_path):
    shutil.copy(DEMO_DATA / "meters" / "lon-colo-1_2026Q3.csv", tmp_path / "meters.csv")
    out = write_config(tmp_path, scan(tmp_path), tmp_path / "disclosure.yaml")
    again = scan(tmp_path)
    assert any(f.path == "disclosure.yaml" for f in again)
    write_config(tmp_path, again, out, force=True)
    text = out.read_text(encoding="utf-8")
    assert [s["path"] for s in yaml.safe_load(text)["sources"]] == ["meters.csv"]
    assert "Files not recognised" not in text              # the old draft is neither a source nor listed


def test_cloud_only_folder_asks_no_site_questions(tmp_path):
    shutil.copy(DEMO_DATA / "billing" / "azure_ea_2026Q3.csv", tmp_path / "azure.csv")
    out = write_config(tmp_path, scan(tmp_path), tmp_path / "disclosure.yaml")
    data = yaml.safe_load(out.read_text(encoding="utf-8"))
    assert "sites" not in data
    assert set(unanswered(data)) == {"entity.name", "entity.consolidation_approach", "entity.currency",
                                     "entity.timezone", "period"}
    config_from_dict(_answer(data), file=str(out), base_dir=tmp_path)


def test_a_draft_written_outside_the_data_folder_runs_on_its_files(tmp_path):
    """`init DIR --out PATH` with PATH outside DIR: the source paths start with ../, which a config may follow only
    with allow_paths_outside_config, so the draft sets it (with a comment saying why) and validates as written."""
    data = tmp_path / "exports"
    data.mkdir()
    shutil.copy(DEMO_DATA / "billing" / "azure_ea_2026Q3.csv", data / "azure.csv")
    out = tmp_path / "esg" / "disclosure.yaml"
    assert main(["init", str(data), "--out", str(out)]) == 0
    text = out.read_text(encoding="utf-8")
    data_yaml = yaml.safe_load(text)
    assert data_yaml["sources"][0]["path"] == "../exports/azure.csv"
    assert data_yaml["allow_paths_outside_config"] is True
    comment = text.split("allow_paths_outside_config")[0]
    assert "1 source file(s) below are outside the folder of this file (they are in ../exports/)" in comment
    assert "--out DIR/disclosure.yaml" in comment
    out.write_text(yaml.safe_dump(_answer(data_yaml), sort_keys=False), encoding="utf-8")
    cfg = load_config(out)                      # what `carbon-disclosure validate` loads, then reads every source
    paths = [p.resolve() for i, s in enumerate(cfg.sources) for p in ingest.expand_paths(cfg, s, i)]
    assert paths == [(data / "azure.csv").resolve()]
    (check,) = check_inputs(cfg)
    assert check.report.rows_read > 0 and check.report.kind == "azure_cost"


def test_a_draft_inside_the_data_folder_keeps_the_path_guard(tmp_path):
    shutil.copy(DEMO_DATA / "billing" / "azure_ea_2026Q3.csv", tmp_path / "azure.csv")
    out = write_config(tmp_path, scan(tmp_path), tmp_path / "disclosure.yaml")
    data = yaml.safe_load(out.read_text(encoding="utf-8"))
    assert data["sources"][0]["path"] == "azure.csv"
    assert "allow_paths_outside_config" not in data
    assert "allow_paths_outside_config" not in out.read_text(encoding="utf-8")


def _steps(path: str) -> list[str | int]:
    out: list[str | int] = []
    for part in path.split("."):
        name, *idx = part.replace("]", "").split("[")
        out.append(name)
        out += [int(i) for i in idx]
    return out


def _get(data, path):
    for step in _steps(path):
        data = data[step]
    return copy.deepcopy(data)


def _set(data, path, value):
    *head, last = _steps(path)
    for step in head:
        data = data[step]
    data[last] = value
