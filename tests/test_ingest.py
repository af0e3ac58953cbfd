"""pipeline/ingest.py: format recognition (kind: auto), path checks and row accounting across formats."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.config import config_from_dict
from pipeline.errors import ConfigError, InputError
from pipeline.ingest import ingest_all, sniff
from pipeline.period import bounds
from pipeline.validate.great_expectations import Validator

DEMO = Path(__file__).resolve().parents[1] / "examples" / "demo" / "data"


@pytest.mark.parametrize("path, kind", [
    (DEMO / "billing" / "aws_focus_2026Q3.csv", "focus"),
    (DEMO / "billing" / "azure_ea_2026Q3.csv", "azure_cost"),
    (DEMO / "carbon" / "aws_carbon_emissions_2026Q3.csv", "aws_carbon"),
    (DEMO / "slurm" / "lon-colo-1_sacct_2026Q3.txt", "slurm_sacct"),
    (DEMO / "meters" / "lon-colo-1_2026Q3.csv", "meter_readings"),
])
def test_sniff_recognises_each_demo_format(path, kind):
    assert sniff(path, path.name) == kind


def test_header_matching_no_format_is_a_clear_error(tmp_path):
    p = tmp_path / "mystery.csv"
    p.write_text("when,what,how_much\n2026-07-01,x,1\n", encoding="utf-8")
    with pytest.raises(InputError) as ei:
        sniff(p, "mystery.csv")
    msg = ei.value.render()
    assert "mystery.csv, row 1: the header matches no supported format" in msg
    assert "when, what, how_much" in msg and "set the source's 'kind' explicitly" in msg


def test_auto_source_says_which_format_it_picked(tmp_path):
    cfg = config_from_dict({
        "entity": {"name": "T", "consolidation_approach": "operational_control", "currency": "EUR"},
        "period": "2026-Q3",
        "contracts": [{"id": "aws", "kind": "cloud", "provider": "aws"}],
        "sources": [{"id": "b", "kind": "auto", "path": str(DEMO / "billing" / "aws_focus_2026Q3.csv"),
                     "contracts": ["aws"]}],
    })
    (ing,) = ingest_all(cfg, Validator(tmp_path / "gx"), bounds(cfg), tmp_path)
    assert ing.kind == "focus" and ing.report.kind == "focus"
    assert ing.report.notes[0] == "format recognised from the header: focus"


def test_every_path_checked_before_reading(tmp_path):
    cfg = config_from_dict({
        "entity": {"name": "T", "consolidation_approach": "operational_control", "currency": "EUR"},
        "period": "2026-Q3",
        "contracts": [{"id": "aws", "kind": "cloud", "provider": "aws"}],
        "sources": [{"id": "ok", "kind": "focus", "path": str(DEMO / "billing" / "aws_focus_2026Q3.csv"), "contracts": ["aws"]},
                    {"id": "gone", "kind": "focus", "path": "nowhere/*.csv", "contracts": ["aws"]}],
    }, base_dir=tmp_path)
    with pytest.raises(ConfigError) as ei:
        ingest_all(cfg, Validator(tmp_path / "gx"), bounds(cfg), tmp_path)
    assert ei.value.key == "sources[1].path"
    assert not (tmp_path / "quarantine").exists()   # nothing was read


FIXTURES = Path(__file__).resolve().parent / "sources" / "fixtures"


@pytest.mark.parametrize("kind, path", [
    ("nvidia_smi", FIXTURES / "nvidia_smi" / "restarted.csv"),
    ("dcgm", FIXTURES / "dcgm" / "range_2gpu_3ts.json"),
])
def test_telemetry_sources_are_ingested_with_row_accounting(tmp_path, kind, path):
    """GPU telemetry goes through the same ingest path: header suite, the power.rows GE suite, quarantine."""
    import csv as _csv

    cfg = config_from_dict({
        "entity": {"name": "T", "consolidation_approach": "operational_control", "currency": "EUR",
                   "timezone": "Europe/London"},
        "period": "2026-Q3",
        "contracts": [{"id": "colo", "kind": "colocation", "provider": "X", "site": "s1"}],
        "sites": [{"id": "s1", "grid_zone": "GB", "pue": 1.3, "timezone": "Europe/London"}],
        "sources": [{"id": "t", "kind": "auto", "path": str(path), "site": "s1"}],
    })
    (ing,) = ingest_all(cfg, Validator(tmp_path / "gx"), bounds(cfg), tmp_path)
    r = ing.report
    assert ing.kind == kind and ing.family == "power"
    assert r.rows_read == r.rows_accepted + r.rows_quarantined and r.rows_read > 0
    assert len(ing.frame) > 0 and ing.frame["ts_utc"].notna().all()
    if r.quarantine_file:
        with open(tmp_path / r.quarantine_file, newline="", encoding="utf-8") as fh:
            assert len(list(_csv.DictReader(fh))) == r.rows_quarantined


def test_power_files_are_read_last_into_a_sink_and_results_keep_config_order(tmp_path):
    """A run reduces GPU telemetry file by file (TelemetryStream needs the site's jobs): with ``power_sink``,
    the DCGM file (listed before sacct here) is read after it, and its samples go to the sink, not the result."""
    from pipeline.config import load_config

    cfg = load_config(Path(__file__).resolve().parents[1] / "examples" / "demo" / "disclosure.yaml")
    dcgm = next(s for s in cfg.sources if s.kind == "dcgm")
    sacct = next(s for s in cfg.sources if s.kind == "slurm_sacct")
    cfg = cfg.model_copy(update={"sources": [dcgm, sacct]})
    seen, kept = [], []

    class Keep:
        def add(self, chunk):
            kept.append(len(chunk))

        def frame(self, template):
            return template

    def power_sink(src, src_id, done):
        seen.append([i.kind for i in done])          # what was read before the power file
        return Keep

    results = ingest_all(cfg, Validator(tmp_path / "gx"), bounds(cfg), tmp_path, power_sink=power_sink)
    assert [i.kind for i in results] == ["dcgm", "slurm_sacct"]      # config order
    assert seen == [["slurm_sacct"]]
    (power,) = [i for i in results if i.kind == "dcgm"]
    assert power.frame.empty and sum(kept) == power.report.rows_accepted > 0


def test_a_sink_result_keeps_no_chunk_alive(tmp_path):
    """What ingest returns for a file whose rows went to a sink must not hold the rows' buffers (an Arrow slice,
    even of zero rows, keeps its parent's buffers alive: ~300 MB per DCGM day file before this was fixed)."""
    import gc

    import pyarrow as pa

    from pipeline.config import load_config
    from pipeline.ingest import DiscardRows, ingest_source

    cfg = load_config(Path(__file__).resolve().parents[1] / "examples" / "demo" / "disclosure.yaml")
    src = next(s for s in cfg.sources if s.kind == "dcgm")
    validator = Validator(tmp_path / "gx")
    gc.collect()
    before = pa.total_allocated_bytes()
    ing = ingest_source(cfg, src, "d", cfg.resolve(src.path), validator, bounds(cfg), tmp_path, sink_factory=DiscardRows)
    gc.collect()
    assert ing.report.rows_accepted > 1000 and ing.frame.empty
    assert pa.total_allocated_bytes() - before < 64 * 1024, "the returned Ingested keeps Arrow buffers alive"
