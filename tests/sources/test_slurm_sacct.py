"""pipeline/sources/slurm_sacct.py: ``sacct --parsable2`` output -> canonical job frame."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from pipeline.config import config_from_dict
from pipeline.errors import ValidationFailed
from pipeline.sources import slurm_sacct

SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
HEADER = "JobID|JobIDRaw|JobName|Account|Partition|State|Start|End|AllocTRES|ConsumedEnergyRaw"


def _write(path: Path, lines: list[str], header: str = HEADER) -> Path:
    path.write_text("\n".join([header, *lines]) + "\n", encoding="utf-8")
    return path


def _canon(path: Path, zone: str = "Europe/London", default_gpu_model: str | None = None):
    """(job frame, number of step rows folded into their jobs)."""
    parsed = slurm_sacct.to_canonical(slurm_sacct.read_raw(path), source_label=path.name, site_id="s1",
                                      site_zone=zone, default_gpu_model=default_gpu_model)
    return parsed.frame, len(parsed.folded)


def _cfg(tmp_path: Path, path: str, period: str = "2026-Q3", zone: str = "Europe/London"):
    return config_from_dict({
        "entity": {"name": "T", "consolidation_approach": "operational_control", "currency": "EUR",
                   "timezone": zone},
        "period": period,
        "contracts": [{"id": "colo", "kind": "colocation", "provider": "Colo", "site": "s1"}],
        "sites": [{"id": "s1", "grid_zone": "GB", "timezone": zone, "pue": 1.2}],
        "sources": [{"id": "sacct", "kind": "slurm_sacct", "path": path, "site": "s1"}],
    }, base_dir=tmp_path)


# --- AllocTRES -------------------------------------------------------------------------------------

@pytest.mark.parametrize("tres, expected", [
    # typed and untyped name the same 16 GPUs: counted once (untyped), model from the typed entry
    ("billing=192,cpu=192,gres/gpu:h100=16,gres/gpu=16,mem=2000G,node=2", (16.0, "h100")),
    # typed only: summed over types; the first type names the model
    ("cpu=8,gres/gpu:a100=4,gres/gpu:h100=2,node=1", (6.0, "a100")),
    ("cpu=8,gres/gpu:h100=8,node=1", (8.0, "h100")),
    # untyped only
    ("cpu=8,gres/gpu=2,node=1", (2.0, None)),
    # none
    ("billing=16,cpu=12,mem=18G,node=1", (0.0, None)),
    ("", (0.0, None)),
    (None, (0.0, None)),
])
def test_gpu_from_tres(tres, expected):
    assert slurm_sacct.gpu_from_tres(tres) == expected


def test_is_step():
    assert [slurm_sacct.is_step(j) for j in ["100", "100.batch", "100.extern", "100.0", None]] == \
        [False, True, True, True, False]


# --- steps folded --------------------------------------------------------------------------------

def test_step_rows_folded_energy_counted_once(tmp_path):
    # 7,200,000 J repeated on the job and both steps; 7.2e6 J / 3.6e6 J/kWh = 2.0 kWh (not 6.0)
    p = _write(tmp_path / "s.txt", [
        "100|100|train-a|proj|gpu|COMPLETED|2026-07-01T10:00:00|2026-07-01T12:00:00|cpu=8,gres/gpu:h100=8,gres/gpu=8|7200000",
        "100.batch|100.batch|batch|proj||COMPLETED|2026-07-01T10:00:00|2026-07-01T12:00:00|cpu=8,gres/gpu:h100=8,gres/gpu=8|7200000",
        "100.extern|100.extern|extern|proj||COMPLETED|2026-07-01T10:00:00|2026-07-01T12:00:00|cpu=8,gres/gpu=8|7200000",
    ])
    frame, n_steps = _canon(p)
    assert n_steps == 2
    assert frame["job_id"].tolist() == ["100"]
    assert frame["energy_kwh"].tolist() == [pytest.approx(2.0, rel=1e-9)]
    # 8 GPUs x 2 h = 16 GPU-hours
    assert frame.loc[frame.index[0], "gpu_hours"] == pytest.approx(16.0, rel=1e-9)
    assert frame.loc[frame.index[0], "gpu_model"] == "h100"
    assert frame["source_row"].tolist() == [2]


def test_step_rows_accounted_in_ingest(tmp_path, ingest):
    _write(tmp_path / "s.txt", [
        "100|100|train-a|proj|gpu|COMPLETED|2026-07-01T10:00:00|2026-07-01T12:00:00|gres/gpu=8|7200000",
        "100.batch|100.batch|batch|proj||COMPLETED|2026-07-01T10:00:00|2026-07-01T12:00:00|gres/gpu=8|7200000",
        "100.extern|100.extern|extern|proj||COMPLETED|2026-07-01T10:00:00|2026-07-01T12:00:00|gres/gpu=8|7200000",
        # a step whose job row is missing: kept visible in quarantine
        "200.batch|200.batch|batch|proj||COMPLETED|2026-07-02T10:00:00|2026-07-02T11:00:00|gres/gpu=1|3600000",
    ])
    ing = ingest(_cfg(tmp_path, "s.txt"))
    r = ing.report
    # 4 read = 3 accepted (job + 2 folded steps) + 1 quarantined (orphan step, line 5)
    assert (r.rows_read, r.rows_accepted, r.rows_quarantined) == (4, 3, 1)
    assert len(ing.frame) == 1
    assert ing.frame["energy_kwh"].sum() == pytest.approx(2.0, rel=1e-9)
    q = pd.read_csv(tmp_path / "out" / r.quarantine_file, dtype=str, keep_default_na=False)
    assert q["source_row"].tolist() == ["5"]
    assert q["failed_expectations"].tolist() == ["job_step_without_job"]
    assert any("2 job-step row(s)" in n for n in r.notes)


# --- time zones ------------------------------------------------------------------------------------

def test_local_times_converted_with_site_zone(tmp_path):
    p = _write(tmp_path / "s.txt", [
        # July in London is BST (UTC+1): 10:00 local -> 09:00Z; 12:30 local -> 11:30Z
        "1|1|j|a|p|COMPLETED|2026-07-01T10:00:00|2026-07-01T12:30:00|gres/gpu=4|",
        # December is GMT (UTC+0)
        "2|2|j|a|p|COMPLETED|2026-12-01T10:00:00|2026-12-01T11:00:00|gres/gpu=4|",
    ])
    frame, _ = _canon(p, zone="Europe/London")
    assert frame["start_utc"].tolist() == [pd.Timestamp("2026-07-01T09:00:00Z"), pd.Timestamp("2026-12-01T10:00:00Z")]
    assert frame["end_utc"].tolist() == [pd.Timestamp("2026-07-01T11:30:00Z"), pd.Timestamp("2026-12-01T11:00:00Z")]
    # 2.5 h = 9000 s; 4 GPUs x 2.5 h = 10 GPU-hours
    assert frame["duration_s"].tolist() == [pytest.approx(9000.0, rel=1e-9), pytest.approx(3600.0, rel=1e-9)]
    assert frame["gpu_hours"].tolist() == [pytest.approx(10.0, rel=1e-9), pytest.approx(4.0, rel=1e-9)]
    # no ConsumedEnergyRaw: not measured
    assert frame["energy_kwh"].isna().all()


def test_other_zone(tmp_path):
    p = _write(tmp_path / "s.txt", ["1|1|j|a|p|COMPLETED|2026-07-01T10:00:00|2026-07-01T11:00:00||"])
    frame, _ = _canon(p, zone="America/New_York")
    # EDT = UTC-4
    assert frame.loc[frame.index[0], "start_utc"] == pd.Timestamp("2026-07-01T14:00:00Z")


def test_ambiguous_dst_time_not_guessed(tmp_path):
    # 2026-10-25 01:30 happens twice in London (clocks go back at 02:00 BST)
    p = _write(tmp_path / "s.txt", ["1|1|j|a|p|COMPLETED|2026-10-25T01:30:00|2026-10-25T03:00:00||"])
    frame, _ = _canon(p)
    assert pd.isna(frame.loc[frame.index[0], "start_utc"])
    assert frame.loc[frame.index[0], "end_utc"] == pd.Timestamp("2026-10-25T03:00:00Z")


# --- Start=None / End=Unknown ----------------------------------------------------------------------

def test_start_none_and_end_unknown_kept(tmp_path, ingest):
    _write(tmp_path / "s.txt", [
        "1|1|pending|a|p|PENDING|None|Unknown|gres/gpu=8|",
        "2|2|running|a|p|RUNNING|2026-09-30T20:00:00|Unknown|gres/gpu=8|",
        "3|3|bad|a|p|COMPLETED|yesterday|2026-07-01T10:00:00|gres/gpu=8|",
        "4|4|backwards|a|p|COMPLETED|2026-07-02T10:00:00|2026-07-01T10:00:00|gres/gpu=8|",
    ])
    ing = ingest(_cfg(tmp_path, "s.txt"))
    r = ing.report
    assert (r.rows_read, r.rows_accepted, r.rows_quarantined) == (4, 2, 2)
    kept = ing.frame.set_index("job_id")
    assert list(kept.index) == ["1", "2"]
    assert bool(kept.loc["1", "start_missing"]) and bool(kept.loc["1", "end_unknown"])
    assert pd.isna(kept.loc["1", "start_utc"]) and pd.isna(kept.loc["1", "end_utc"])
    assert not bool(kept.loc["2", "start_missing"]) and bool(kept.loc["2", "end_unknown"])
    assert kept.loc["2", "start_utc"] == pd.Timestamp("2026-09-30T19:00:00Z")
    q = pd.read_csv(tmp_path / "out" / r.quarantine_file, dtype=str, keep_default_na=False)
    reasons = dict(zip(q["source_row"].astype(int), q["reasons"]))
    assert reasons[4] == "Start is not a timestamp (YYYY-MM-DDTHH:MM:SS, site local time) and not 'None' (Start = 'yesterday')"
    assert reasons[5] == "End is before Start"


def test_jobs_outside_period_quarantined(tmp_path, ingest):
    _write(tmp_path / "s.txt", [
        "1|1|before|a|p|COMPLETED|2026-06-01T10:00:00|2026-06-30T23:30:00||",   # 22:30Z on 30 June: before
        "2|2|across|a|p|COMPLETED|2026-06-30T22:00:00|2026-07-01T02:00:00||",   # crosses the start: kept
        "3|3|after|a|p|COMPLETED|2026-10-01T00:00:00|2026-10-01T05:00:00||",    # 2026-09-30T23:00Z = period end: out
    ])
    ing = ingest(_cfg(tmp_path, "s.txt"))
    assert ing.frame["job_id"].tolist() == ["2"]
    assert ing.report.rows_quarantined == 2


def test_typed_model_kept_and_default_fills_the_rest(tmp_path):
    p = _write(tmp_path / "s.txt", [
        "1|1|j|a|p|COMPLETED|2026-07-01T10:00:00|2026-07-01T11:00:00|gres/gpu:a100=2,gres/gpu=2|",
        "2|2|j|a|p|COMPLETED|2026-07-01T10:00:00|2026-07-01T11:00:00|gres/gpu=2|",
    ])
    frame, _ = _canon(p, default_gpu_model="H100-SXM")
    assert frame["gpu_model"].tolist() == ["a100", "H100-SXM"]


def test_typed_names_mapped_through_gres_gpu_types(tmp_path):
    p = _write(tmp_path / "s.txt", [
        "1|1|j|a|p|COMPLETED|2026-07-01T10:00:00|2026-07-01T11:00:00|gres/gpu:h100=8,gres/gpu=8|",
        "2|2|j|a|p|COMPLETED|2026-07-01T10:00:00|2026-07-01T11:00:00|gres/gpu:a100=2,gres/gpu=2|",
        "3|3|j|a|p|COMPLETED|2026-07-01T10:00:00|2026-07-01T11:00:00|gres/gpu=1|",
    ])
    frame = slurm_sacct.to_canonical(slurm_sacct.read_raw(p), source_label="s.txt", site_id="s1",
                                     site_zone="UTC", default_gpu_model="L40S",
                                     gres_gpu_types={"h100": "H100-SXM"}).frame
    # mapped, unmapped typed name kept as is, untyped takes the site's model
    assert frame["gpu_model"].tolist() == ["H100-SXM", "a100", "L40S"]


@pytest.mark.parametrize("tres", ["gres/gpu=2", "cpu=4,mem=8G"])
def test_default_gpu_model_when_no_row_is_typed(tmp_path, tres):
    p = _write(tmp_path / "s.txt", [f"1|1|j|a|p|COMPLETED|2026-07-01T10:00:00|2026-07-01T11:00:00|{tres}|"])
    frame, _ = _canon(p, default_gpu_model="H100-SXM")
    assert frame["gpu_model"].tolist() == ["H100-SXM"]


# --- real samples ------------------------------------------------------------------------------------

GPU_SAMPLE = SHARED_DATA / "slurm" / "slurmio_sacct_gpu_parsable2.txt"
CPU_SAMPLE = SHARED_DATA / "slurm" / "slurmio_sacct_cpu_parsable2.txt"


@pytest.mark.skipif(not GPU_SAMPLE.is_file(), reason="shared sample data not available")
def test_real_gpu_sample_parses(tmp_path, ingest):
    raw = slurm_sacct.read_raw(GPU_SAMPLE)
    assert len(raw.frame) == 1
    assert raw.frame["JobID"].tolist() == ["606501"]
    # AllocGRES says gpu:1, but AllocTRES has no gres/gpu entry: the TRES parser counts 0 GPUs
    tres = raw.frame["AllocTRES"].iloc[0]
    assert tres == "cpu=24,mem=336000,node=1"
    assert slurm_sacct.gpu_from_tres(tres) == (0.0, None)
    # the file lacks Account, Start and End: ingest stops with the missing columns named
    with pytest.raises(ValidationFailed) as ei:
        ingest(_cfg(tmp_path, str(GPU_SAMPLE)))
    missing = {p.split("'")[1] for p in ei.value.problems if p.startswith("required column")}
    assert missing == {"Account", "Start", "End"}
    assert ei.value.exit_code == 1


@pytest.mark.skipif(not CPU_SAMPLE.is_file(), reason="shared sample data not available")
def test_real_cpu_sample_missing_columns(tmp_path, ingest):
    header = CPU_SAMPLE.read_text(encoding="utf-8").splitlines()[0].split("|")
    expected_missing = {c for c in slurm_sacct.REQUIRED if c not in header}
    assert expected_missing == {"Account", "State", "Start", "End"}
    with pytest.raises(ValidationFailed) as ei:
        ingest(_cfg(tmp_path, str(CPU_SAMPLE)))
    err = ei.value
    missing = {p.split("'")[1] for p in err.problems if p.startswith("required column")}
    assert missing == expected_missing
    assert f"{len(expected_missing)} required column(s) missing" in err.message
    assert str(CPU_SAMPLE) in err.render()
