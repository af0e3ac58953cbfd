"""Input limits: gzip bombs stop early (pipeline/sources/_text.py ``_GzipGuard``), source paths stay inside the
config file's folder (``Config.check_inside`` via ``ingest.expand_paths``), and JSON documents and JSON cells are
parsed with size and depth limits (``_text.loads_json``) - never a RecursionError or an unbounded allocation."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import tracemalloc
from pathlib import Path

import pandas as pd
import pytest
import yaml

from pipeline.config import config_from_dict, json_schema, load_config
from pipeline.errors import ConfigError, DisclosureError, InputError
from pipeline.ingest import expand_paths, ingest_all, ingest_source
from pipeline.period import bounds
from pipeline.sources import (
    _text,
    aws_carbon,
    aws_cur,
    azure_cost,
    dcgm,
    gcp_billing,
    gcp_carbon,
    kepler,
    meter_readings,
)
from pipeline.sources._text import (
    InputLimitExceeded,
    JsonLimitError,
    loads_json,
    normalise_tags,
)
from pipeline.validate.great_expectations import Validator

REPO = Path(__file__).resolve().parents[1]
MB = 2 ** 20
METER_HEADER = b"meter_id,timestamp,energy,unit\n"
METER_ROW = b"LON1-PDU-A,2026-07-01T00:00:00+01:00,45.645,kWh\n"


@pytest.fixture(scope="module")
def validator(tmp_path_factory):
    return Validator(tmp_path_factory.mktemp("gx"))


def _bomb(path: Path, *, members: int = 60, member_mb: int = 32) -> tuple[int, int]:
    """A gzip of CSV rows: ``members`` copies of one gzip member holding ``member_mb`` MB of repeated rows (a
    file of concatenated members is one valid gzip stream). Returns (compressed bytes, decompressed bytes)."""
    rows = METER_ROW * (member_mb * MB // len(METER_ROW))
    member = gzip.compress(rows, compresslevel=9, mtime=0)
    with open(path, "wb") as fh:
        fh.write(gzip.compress(METER_HEADER, mtime=0))
        fh.write(member * members)
    return path.stat().st_size, len(METER_HEADER) + members * len(rows)


def _peak_while(fn) -> tuple[int, BaseException | None]:
    """Peak traced allocation (bytes) while fn runs, and what it raised."""
    tracemalloc.start()
    tracemalloc.reset_peak()
    err = None
    try:
        fn()
    except BaseException as exc:  # noqa: BLE001 - returned to the test
        err = exc
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak, err


# --- gzip -----------------------------------------------------------------------------------------------------

def test_gzip_bomb_stops_early_with_an_input_error_naming_the_file_and_the_fix(tmp_path, monkeypatch):
    path = tmp_path / "meters.csv.gz"
    compressed, full = _bomb(path)
    assert compressed < 8 * MB and full > 1800 * MB           # a few MB that would expand to 1.9 GB
    monkeypatch.setattr(_text, "GZIP_RATIO_MIN_BYTES", 1 * MB)
    before = set(tmp_path.iterdir())
    peak, err = _peak_while(lambda: meter_readings.read_raw(path))
    assert isinstance(err, InputLimitExceeded) and isinstance(err, InputError)
    assert err.file == str(path)
    assert "expands more than 200x" in err.message and "reading stopped" in err.message
    assert "split it into several files" in err.fix and "MAX_GZIP_RATIO" in err.fix
    assert peak < 32 * MB, f"{peak / MB:.0f} MB allocated reading a bomb that stops after ~1 MB"
    assert set(tmp_path.iterdir()) == before                   # nothing decompressed to disk


def test_gzip_bomb_with_the_shipped_limits_stops_long_before_its_full_size(tmp_path):
    """Default constants: the bomb stops after ~GZIP_RATIO_MIN_BYTES (64 MB) of its 1.9 GB."""
    path = tmp_path / "dcgm.txt.gz"
    _, full = _bomb(path)
    peak, err = _peak_while(lambda: dcgm.read_raw(path))          # read_text: the whole text in memory
    assert isinstance(err, InputLimitExceeded), err
    assert peak < 3 * _text.GZIP_RATIO_MIN_BYTES < full / 8, f"{peak / MB:.0f} MB for a {full / MB:.0f} MB bomb"
    # (read_delimited holds rows as Python lists: ~8x the text, ~0.5 GB at this limit; measured, not traced here
    # because tracing millions of small allocations takes half a minute)


def test_total_cap_applies_whatever_the_ratio(tmp_path, monkeypatch):
    path = tmp_path / "meters.csv.gz"
    rows = b"".join(b"M%d,2026-07-01T%02d:00:00Z,%d.5,kWh\n" % (i, i % 24, i * 7919 % 1000) for i in range(20_000))
    path.write_bytes(gzip.compress(METER_HEADER + rows))
    assert len(rows) / path.stat().st_size < 200                  # an ordinary compression ratio
    meter_readings.read_raw(path)                                   # within the limits: read
    monkeypatch.setattr(_text, "MAX_DECOMPRESSED_BYTES", 64 * 1024)
    with pytest.raises(InputLimitExceeded) as ei:
        meter_readings.read_raw(path)
    assert "the limit for one file" in ei.value.message and "MAX_DECOMPRESSED_BYTES" in ei.value.fix


def test_small_files_that_compress_well_are_read(tmp_path):
    """Below GZIP_RATIO_MIN_BYTES a high ratio is fine: 2 MB of identical rows (ratio ~ 500) is a normal export."""
    path = tmp_path / "meters.csv.gz"
    rows = METER_ROW * (2 * MB // len(METER_ROW))
    path.write_bytes(gzip.compress(METER_HEADER + rows))
    assert len(rows) / path.stat().st_size > 200
    raw = meter_readings.read_raw(path)
    assert len(raw.frame) == len(rows) // len(METER_ROW)


def test_auto_kind_does_not_try_other_formats_on_a_bomb(tmp_path, monkeypatch, validator):
    path = tmp_path / "meters.csv.gz"
    _bomb(path, members=8)
    monkeypatch.setattr(_text, "GZIP_RATIO_MIN_BYTES", 1 * MB)
    cfg = config_from_dict({
        "entity": {"name": "T", "consolidation_approach": "operational_control", "currency": "EUR"},
        "period": "2026-Q3", "contracts": [{"id": "colo", "kind": "colocation", "provider": "X", "site": "s1"}],
        "sites": [{"id": "s1", "grid_zone": "GB", "pue": 1.2, "meters": [{"id": "LON1-PDU-A"}]}],
        "sources": [{"id": "m", "kind": "auto", "path": str(path), "site": "s1"}]})
    with pytest.raises(InputLimitExceeded) as ei:
        ingest_source(cfg, cfg.sources[0], "m", path, validator, bounds(cfg), tmp_path)
    assert "matches no supported format" not in ei.value.message


# found by tests/test_adapter_properties.py: a damaged deflate stream raised zlib.error (not an OSError) -> exit 3
CORRUPT_GZIP = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x02\x03\xe3\x02\x00\x93\x06\xd72\x01\x00\x00\x00"


@pytest.mark.parametrize("adapter", [meter_readings, dcgm, gcp_billing, aws_carbon])
def test_corrupt_gzip_is_an_input_error(tmp_path, adapter):
    path = tmp_path / "input.csv.gz"
    path.write_bytes(CORRUPT_GZIP)
    with pytest.raises(InputError) as ei:
        adapter.read_raw(path)
    assert "corrupt gzip data" in ei.value.message and ei.value.file == str(path)


# --- paths outside the config's folder ---------------------------------------------------------------------------

BASE_CONFIG = {
    "entity": {"name": "T", "consolidation_approach": "operational_control", "currency": "EUR"},
    "period": "2026-Q3",
    "contracts": [{"id": "aws", "kind": "cloud", "provider": "aws"}],
}


def _config_dir(tmp_path: Path, paths: list[str], **top) -> Path:
    folder = tmp_path / "project" / "config"
    (folder / "data").mkdir(parents=True, exist_ok=True)
    (folder / "data" / "bill.csv").write_text("x\n", encoding="utf-8")
    data = {**BASE_CONFIG, **top,
            "sources": [{"id": f"s{i}", "kind": "focus", "path": p, "contracts": ["aws"]} for i, p in enumerate(paths)]}
    (folder / "disclosure.yaml").write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return folder


def _refused(folder: Path, index: int) -> ConfigError:
    cfg = load_config(folder / "disclosure.yaml")
    with pytest.raises(ConfigError) as ei:
        expand_paths(cfg, cfg.sources[index], index)
    err = ei.value
    assert err.key == f"sources[{index}].path"
    assert err.file == str(folder / "disclosure.yaml")
    assert "outside the config file's folder" in err.message and str(folder.resolve()) in err.message
    assert "allow_paths_outside_config: true" in err.fix and "copy or move the input into the config's folder" in err.fix
    return err


@pytest.mark.parametrize("path", ["../../etc/passwd", "../" * 40 + "etc/passwd", "data/../../elsewhere.csv"])
def test_relative_path_climbing_out_of_the_config_folder_is_refused(tmp_path, path):
    err = _refused(_config_dir(tmp_path, ["data/bill.csv", path]), 1)
    assert f"'{path}'" in err.message


def test_absolute_path_elsewhere_is_refused(tmp_path):
    other = tmp_path / "elsewhere" / "bill.csv"
    other.parent.mkdir()
    other.write_text("x\n", encoding="utf-8")
    _refused(_config_dir(tmp_path, [str(other)]), 0)
    _refused(_config_dir(tmp_path, ["/etc/passwd"]), 0)


def test_request_counts_outside_the_config_folder_is_refused_before_reading(tmp_path):
    folder = _config_dir(tmp_path, ["data/bill.csv"], projections={"request_counts": "../../requests.csv"})
    cfg = load_config(folder / "disclosure.yaml")
    with pytest.raises(ConfigError) as ei:
        ingest_all(cfg, Validator(tmp_path / "gx"), bounds(cfg), tmp_path / "out")
    assert ei.value.key == "projections.request_counts" and "outside the config file's folder" in ei.value.message


def test_symlink_inside_the_folder_pointing_outside_is_refused(tmp_path):
    folder = _config_dir(tmp_path, ["data/host.csv", "data/*.csv"])
    (folder / "data" / "host.csv").symlink_to("/etc/hostname")
    err = _refused(folder, 0)
    assert "(as /etc/hostname)" in err.message
    err = _refused(folder, 1)                                       # a glob matching the link: refused too
    assert "/etc/hostname" in err.message


def test_glob_reaching_outside_is_refused_even_when_nothing_matches(tmp_path):
    _refused(_config_dir(tmp_path, ["../../*.nothing"]), 0)


def test_symlinked_folder_leading_outside_is_refused(tmp_path):
    outside = tmp_path / "shared"
    outside.mkdir()
    (outside / "bill.csv").write_text("x\n", encoding="utf-8")
    folder = _config_dir(tmp_path, ["linked/bill.csv", "linked/*.csv"])
    (folder / "linked").symlink_to(outside)
    _refused(folder, 0)
    _refused(folder, 1)


def test_paths_inside_the_folder_are_read(tmp_path):
    folder = _config_dir(tmp_path, ["data/bill.csv", "./data/../data/bill.csv", "data/*.csv", "data/link.csv",
                                    str(tmp_path / "project" / "config" / "data" / "bill.csv")])
    (folder / "data" / "link.csv").symlink_to(folder / "data" / "bill.csv")   # a link that stays inside
    cfg = load_config(folder / "disclosure.yaml")
    for i, src in enumerate(cfg.sources):
        assert all(p.resolve().is_relative_to(folder.resolve()) for p in expand_paths(cfg, src, i))


def test_allow_paths_outside_config_lifts_the_check(tmp_path):
    folder = _config_dir(tmp_path, ["../" * 40 + "etc/hostname", "/etc/passwd", "data/host.csv"],
                         allow_paths_outside_config=True)
    (folder / "data" / "host.csv").symlink_to("/etc/hostname")
    cfg = load_config(folder / "disclosure.yaml")
    assert cfg.allow_paths_outside_config is True
    assert [p.resolve() for i, s in enumerate(cfg.sources) for p in expand_paths(cfg, s, i)] == \
        [Path("/etc/hostname"), Path("/etc/passwd"), Path("/etc/hostname")]


def test_the_flag_is_in_the_json_schema_and_defaults_to_false():
    prop = json_schema()["properties"]["allow_paths_outside_config"]
    assert prop["type"] == "boolean" and prop["default"] is False
    committed = json.loads((REPO / "schemas" / "disclosure.schema.json").read_text(encoding="utf-8"))
    assert committed["properties"]["allow_paths_outside_config"] == prop


def test_every_path_is_checked_before_any_file_is_read(tmp_path):
    folder = _config_dir(tmp_path, ["data/bill.csv", "../../etc/passwd"])
    cfg = load_config(folder / "disclosure.yaml")
    with pytest.raises(ConfigError) as ei:
        ingest_all(cfg, Validator(tmp_path / "gx"), bounds(cfg), tmp_path / "out")
    assert ei.value.key == "sources[1].path"


def test_cli_refuses_the_config_with_exit_code_2(tmp_path):
    folder = _config_dir(tmp_path, ["../../etc/passwd"])
    proc = subprocess.run([sys.executable, "-m", "pipeline", "validate", str(folder / "disclosure.yaml")],
                          capture_output=True, text=True, cwd=REPO, timeout=300, check=False)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "key 'sources[0].path'" in proc.stderr and "outside the config file's folder" in proc.stderr
    assert "allow_paths_outside_config: true" in proc.stderr


def test_config_built_in_code_is_not_confined(tmp_path):
    """No config file, no config folder: library callers building a config in code are trusted."""
    cfg = config_from_dict({**BASE_CONFIG, "sources": [{"kind": "focus", "path": "/etc/passwd",
                                                        "contracts": ["aws"]}]}, base_dir=tmp_path)
    assert expand_paths(cfg, cfg.sources[0], 0) == [Path("/etc/passwd")]


# --- JSON size and depth ---------------------------------------------------------------------------------------

def _nested(depth: int) -> str:
    return '{"a":' * depth + "1" + "}" * depth


def _nested_list(depth: int) -> str:
    return "[" * depth + "]" * depth


def test_loads_json_limits():
    limit = _text.MAX_JSON_DEPTH
    assert loads_json(_nested(limit)) is not None
    for text in (_nested(limit + 1), _nested(10_000), _nested_list(1_000_000), "[" * 100_000):
        with pytest.raises(JsonLimitError, match=f"nested more than {limit} levels"):
            loads_json(text)
    # brackets inside strings (also after escaped quotes and backslashes) are not nesting
    assert loads_json(json.dumps({"k": "[" * 500, 'q"\\[': "{" * 500})) == {"k": "[" * 500, 'q"\\[': "{" * 500}
    with pytest.raises(JsonLimitError) as ei:
        loads_json('{"a": 1,\n "b": 2,\n "c": ' + _nested(100) + "}")
    assert ei.value.line == 3
    with pytest.raises(JsonLimitError, match="over the limit of 10"):
        loads_json("[1, 2, 3, 4, 5]", max_chars=10)
    for bad in ("{", "[}", '{"a": 1', "[" * 10 + "}" + "]" * 10):   # invalid but shallow: json's own error
        with pytest.raises(ValueError) as ei:
            loads_json(bad)
        assert not isinstance(ei.value, JsonLimitError)


def test_oversized_document_is_refused_before_parsing(monkeypatch):
    monkeypatch.setattr(_text, "MAX_JSON_DOCUMENT_CHARS", 1000)
    monkeypatch.setattr(_text.json, "loads", lambda *a, **k: pytest.fail("parsed an oversized document"))
    with pytest.raises(JsonLimitError, match="over the limit of 1,000"):
        loads_json(json.dumps(list(range(2000))))


@pytest.mark.parametrize("text", [_nested(10_000), _nested(900), _nested_list(50_000), '{"a": ' + "[" * 5000])
def test_tag_cells_nested_too_deep_are_unreadable_not_a_crash(text):
    """Tag cells follow the adapters' documented rule for unreadable tags: the row is kept without tags and
    counted in the notes (a tags cell is not worth refusing the whole billing file)."""
    assert normalise_tags(text) == ("{}", False)
    assert azure_cost.normalise_brace_tags(text) == ("{}", False)
    assert azure_cost.vm_size(text, "NC24ads A100 v4") == "Standard_NC24ads_A100_v4"   # falls back to MeterName
    assert gcp_billing.key_values(text) == (None, False)
    assert pd.isna(gcp_billing.credits_total(text))
    assert aws_cur._parse_json_object(text) == {}


def _focus_file(path: Path, tags: str) -> Path:
    header = ["BillingAccountId", "ProviderName", "ChargePeriodStart", "ChargePeriodEnd", "ChargeCategory",
              "ConsumedQuantity", "ConsumedUnit", "BilledCost", "BillingCurrency", "ServiceName", "RegionId", "Tags"]
    row = ["1", "AWS", "2026-07-01T00:00:00Z", "2026-07-01T01:00:00Z", "Usage", "1", "Hours", "1", "USD", "EC2",
           "us-east-1", tags]
    pd.DataFrame([row, row[:-1] + ['{"project": "p1"}']], columns=header).to_csv(path, index=False)
    return path


def test_focus_file_with_a_deeply_nested_tags_cell_is_ingested(tmp_path, validator):
    cfg = config_from_dict({**BASE_CONFIG, "sources": [{"kind": "focus", "path": "f.csv", "contracts": ["aws"]}]})
    path = _focus_file(tmp_path / "f.csv", _nested(10_000)[:60_000])     # a cell under the csv module's limit
    ing = ingest_source(cfg, cfg.sources[0], "f", path, validator, bounds(cfg), tmp_path)
    assert ing.report.rows_read == 2 == ing.report.rows_accepted + ing.report.rows_quarantined
    assert ing.frame["tags_json"].tolist() == ["{}", '{"project": "p1"}']
    assert any(n.startswith("1 row(s) with unreadable Tags JSON") for n in ing.report.notes)


def _prom_json(metric: dict, values: str) -> str:
    head = json.dumps({"status": "success", "data": {"resultType": "matrix", "result": [
        {"metric": metric, "values": "VALUES"}]}}, indent=1)
    return head.replace('"VALUES"', values)


@pytest.mark.parametrize("adapter, metric", [
    (dcgm, {"__name__": "DCGM_FI_DEV_POWER_USAGE", "gpu": "0", "UUID": "GPU-1"}),
    (kepler, {"__name__": "kepler_node_cpu_joules_total", "zone": "package", "node_name": "n1"}),
])
def test_prometheus_json_nested_too_deep_is_an_input_error_with_file_and_row(tmp_path, adapter, metric):
    path = tmp_path / "range.json"
    text = _prom_json(metric, _nested_list(10_000))
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputLimitExceeded) as ei:
        adapter.read_raw(path)
    err = ei.value
    deep_line = text[:text.index("[[[[")].count("\n") + 1
    assert err.file == str(path) and err.row == deep_line == 12         # the line where the deep part starts
    assert f"nested more than {_text.MAX_JSON_DEPTH} levels deep" in err.message
    assert "MAX_JSON_DEPTH" in err.fix


@pytest.mark.parametrize("adapter", [dcgm, kepler])
def test_prometheus_json_over_the_size_limit_is_an_input_error(tmp_path, monkeypatch, adapter):
    monkeypatch.setattr(_text, "MAX_JSON_DOCUMENT_CHARS", 10_000)
    points = ",".join(f'[{1782860400 + i}, "{i}"]' for i in range(2000))
    path = tmp_path / "range.json"
    path.write_text(_prom_json({"__name__": "DCGM_FI_DEV_POWER_USAGE", "gpu": "0"}, f"[{points}]"), encoding="utf-8")
    with pytest.raises(InputLimitExceeded, match="characters long, over the limit of 10,000") as ei:
        adapter.read_raw(path)
    assert ei.value.file == str(path)


def test_provider_carbon_json_lines_nested_too_deep_name_the_line(tmp_path):
    good = json.dumps({"usage_month": "2026-07-01", "carbon_footprint_total_kgCO2e": {"location_based": 1.0}})
    path = tmp_path / "carbon.jsonl"
    path.write_text(good + "\n" + good + '\n{"usage_month": "2026-07-01", "x": ' + _nested(5000) + "}\n",
                    encoding="utf-8")
    with pytest.raises(InputLimitExceeded) as ei:
        gcp_carbon.read_raw(path)
    assert ei.value.row == 3 and ei.value.file == str(path)


def test_provider_carbon_json_document_nested_too_deep_is_refused(tmp_path):
    path = tmp_path / "carbon.json"
    path.write_text('[\n {"usage_month": "2026-07-01",\n  "x": ' + _nested(200) + "}\n]", encoding="utf-8")
    with pytest.raises(InputLimitExceeded) as ei:
        aws_carbon.read_raw(path)
    assert ei.value.row == 3


def test_gcp_billing_json_line_nested_too_deep_is_quarantined_not_a_recursion_error(tmp_path):
    """Was a RecursionError (exit 3) from the recursive flatten for lines nested ~990 deep."""
    good = json.dumps({"usage_start_time": "2026-07-01 00:00:00 UTC", "cost": 1, "currency": "USD",
                       "service": {"description": "Compute Engine"}, "sku": {"description": "x"}})
    path = tmp_path / "billing.jsonl"
    for deep in (_nested(990), _nested(10_000)):
        path.write_text(good + '\n{"usage_start_time": "2026-07-01", "labels": ' + deep + "}\n", encoding="utf-8")
        raw = gcp_billing.read_raw(path)
        parsed = gcp_billing.to_canonical(raw, source_label=path.name)
        assert list(raw.frame["source_row"]) == [1, 2]
        (code, reason), = parsed.quarantine[1]
        assert code == "invalid_json_line" and f"nested more than {_text.MAX_JSON_DEPTH} levels" in reason


def test_limits_never_raise_anything_but_disclosure_errors(tmp_path):
    """The deep / huge shapes above through every JSON-reading adapter: DisclosureError or rows, nothing else."""
    shapes = [_nested(10_000), _nested_list(10_000), "[" * 10_000, '{"status": "success", "data": ' + _nested(3000)]
    for n, text in enumerate(shapes):
        for name, adapter in (("x.json", dcgm), ("x.json", kepler), ("x.json", aws_carbon), ("x.jsonl", gcp_carbon),
                              ("x.jsonl", gcp_billing)):
            path = tmp_path / f"{n}_{adapter.KIND}_{name}"
            path.write_text(text, encoding="utf-8")
            try:
                adapter.read_raw(path)
            except DisclosureError:
                pass


@pytest.fixture(autouse=True)
def _no_leftover_tracing():
    yield
    if tracemalloc.is_tracing():
        tracemalloc.stop()


def test_constants_are_documented_in_the_module_docstring():
    for name in ("MAX_GZIP_RATIO", "GZIP_RATIO_MIN_BYTES", "MAX_DECOMPRESSED_BYTES", "MAX_JSON_DEPTH", "loads_json"):
        assert name in _text.__doc__
