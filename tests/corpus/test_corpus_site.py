"""Bad-input corpus for the site and telemetry formats (``tests/corpus/site/``, outcomes in ``expected.yaml``).

Every entry of ``expected.yaml`` is one input file run through ``pipeline.ingest.ingest_source`` with a config
built the way the source tests build theirs (one site ``s1`` in Europe/London with meters M1 and M2, period
2026-Q3 unless the entry says otherwise). The outcome is checked exactly:

* ``error: InputError | ValidationFailed | ConfigError`` - that class (never a traceback), and its rendered
  message contains the file name, a fix, and every ``message_contains`` substring;
* ``accepted: N`` and ``quarantined: {source_row: reason substring(s)}`` - exactly those rows quarantined,
  each reason containing the substring(s), and rows_read = rows_accepted + rows_quarantined, with the
  quarantine file holding exactly the quarantined rows.

Optional checks: ``totals`` (sum of a canonical column over accepted rows), ``notes_contain``,
``coverage`` (meters: ``pipeline.energy.meters.check_meter_coverage``) and ``counter_resets`` (telemetry energy
counters: ``pipeline.energy.telemetry.counter_energy``). Entry keys that shape the run: ``config_kind`` (e.g.
``auto``), ``period``, ``timezone``, ``meters``, ``source`` (extra source keys: reading_kind, boundary, ...).

Files not stored in the corpus:
* ``derive: {from: <path under /work/shared/data>, op: <transform>}`` - a broken variant of a shared sample,
  made at test time (skipped when the shared data is absent; shared files are never copied into the repo);
* ``generate: <name>`` - made by a generator below (e.g. a file 100x larger than the rest).

``xfail: "<what is wrong>"`` marks a known pipeline bug: the entry states the outcome the rule asks for.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest
import yaml

from pipeline.config import SITE_KINDS, config_from_dict
from pipeline.errors import ConfigError, DisclosureError, InputError, ValidationFailed
from pipeline.ingest import ingest_source
from pipeline.period import bounds

HERE = Path(__file__).resolve().parent
CORPUS = HERE / "site"
SHARED_DATA = HERE.parents[1].parent / "shared" / "data"
EXPECTED: dict = yaml.safe_load((CORPUS / "expected.yaml").read_text(encoding="utf-8"))
ERRORS = {"InputError": InputError, "ValidationFailed": ValidationFailed, "ConfigError": ConfigError}


# --- files made at test time -----------------------------------------------------------------------------

def _truncate_last_line(data: bytes) -> bytes:
    """Cut the last line in the middle (no newline after it), like an export interrupted while writing."""
    body = data.rstrip(b"\r\n")
    start = body.rfind(b"\n") + 1
    return body[: start + (len(body) - start) // 2]


DERIVE_OPS = {
    "utf16": lambda data: data.decode("utf-8").encode("utf-16"),
    "truncate_last_line": _truncate_last_line,
    # a scrape saved with its time (the upstream file has none) and cut off while writing its last sample
    "scraped_at_truncated": lambda data: b"# scraped_at 2026-07-14T08:00:00Z\n" + _truncate_last_line(data),
}


def _big_meter_quarter(path: Path) -> None:
    """Every hour of 2026-Q3 (London) for meter M1 - 2,208 readings, about 100x the other meter files - with
    one unknown unit, one timestamp without offset and one repeated reading (a duplicate line) mixed in."""
    start = pd.Timestamp("2026-06-30T23:00:00Z")
    lines = ["meter_id,timestamp,energy,unit"]
    for h in range(2208):
        ts = (start + pd.Timedelta(hours=h)).tz_convert("Europe/London")
        stamp = ts.isoformat()
        energy, unit = f"{10 + (h % 24) / 4:.2f}", "kWh"
        if h == 100:
            unit = "BTU"                                  # line 102
        if h == 1000:
            stamp = ts.tz_localize(None).isoformat()      # line 1002: no offset
        lines.append(f"M1,{stamp},{energy},{unit}")
        if h == 2000:
            lines.append(lines[-1])                       # line 2003: the reading of line 2002 again
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _big_sacct(path: Path) -> None:
    """1,000 jobs of one hour (each with a .batch step: 2,000 data lines), one of them ending before it starts."""
    lines = ["JobID|JobIDRaw|JobName|Account|Partition|State|Start|End|AllocTRES|ConsumedEnergyRaw"]
    base = pd.Timestamp("2026-07-01T00:00:00")
    for j in range(1, 1001):
        s = base + pd.Timedelta(hours=2 * j)
        e = s + pd.Timedelta(hours=1)
        if j == 500:
            s, e = e, s                                    # line 2 * 500 = 1000: End before Start
        row = f"|{j}|train|proj|gpu|COMPLETED|{s:%Y-%m-%dT%H:%M:%S}|{e:%Y-%m-%dT%H:%M:%S}|gres/gpu=8|3600000"
        lines.append(f"{j}" + row)
        lines.append(f"{j}.batch" + row.replace("|train|", "|batch|", 1))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _latin1_deep(path: Path) -> None:
    """A meter file saved as UTF-8 whose line 1002 was edited in a Latin-1 tool (byte 0xE4 for 'ä')."""
    good = "M1,2026-07-01T00:00:00+01:00,10,kWh\n" * 1000
    path.write_bytes(("meter_id,timestamp,energy,unit\n" + good).encode("utf-8")
                     + "Zähler-1,2026-07-01T00:00:00+01:00,10,kWh\n".encode("latin-1"))


GENERATORS = {"big_meter_quarter": _big_meter_quarter, "big_sacct": _big_sacct, "latin1_deep": _latin1_deep}


def materialise(name: str, entry: dict, tmp_path: Path) -> Path:
    """The input file for an entry: the stored corpus file, or one derived / generated into ``tmp_path``."""
    if "derive" in entry:
        src = SHARED_DATA / entry["derive"]["from"]
        if not src.is_file():
            pytest.skip(f"shared sample data not available ({src})")
        target = tmp_path / name
        target.write_bytes(DERIVE_OPS[entry["derive"]["op"]](src.read_bytes()))
        return target
    if "generate" in entry:
        target = tmp_path / name
        GENERATORS[entry["generate"]](target)
        return target
    return CORPUS / name


def build_config(name: str, entry: dict, path: Path):
    kind = entry["kind"]
    zone = entry.get("timezone", "Europe/London")
    src = {"id": Path(name).name.split(".")[0], "kind": entry.get("config_kind", kind), "path": path.name}
    if kind in SITE_KINDS:
        src["site"] = "s1"
    src.update(entry.get("source", {}))
    return config_from_dict({
        "entity": {"name": "Corpus", "consolidation_approach": "operational_control", "currency": "EUR",
                   "timezone": zone},
        "period": entry.get("period", "2026-Q3"),
        "contracts": [{"id": "colo", "kind": "colocation", "provider": "Colo", "site": "s1"}],
        "sites": [{"id": "s1", "grid_zone": "GB", "timezone": zone, "pue": 1.2,
                   "meters": [{"id": m} for m in entry.get("meters", ["M1", "M2"])]}],
        "sources": [src],
    }, base_dir=path.parent)


def run_entry(name: str, entry: dict, tmp_path: Path, validator):
    """(cfg, Ingested) for one corpus entry; DisclosureErrors propagate, like in a real run. Any other exception
    is a traceback the user would see (exit 3): it fails the test as an AssertionError naming it."""
    path = materialise(name, entry, tmp_path)
    cfg = build_config(name, entry, path)
    src = cfg.sources[0]
    out = tmp_path / "out"
    out.mkdir(exist_ok=True)
    try:
        return cfg, ingest_source(cfg, src, src.id, path, validator, bounds(cfg), out)
    except DisclosureError:
        raise
    except Exception as exc:   # the point of the corpus: no traceback may escape
        raise AssertionError(f"{name}: {type(exc).__name__} escaped instead of a DisclosureError "
                             f"(a traceback, exit 3): {exc}") from exc


def quarantine_reasons(ing, out_dir: Path) -> dict[int, str]:
    r = ing.report
    if not r.quarantine_file:
        return {}
    q = pd.read_csv(out_dir / r.quarantine_file, dtype=str, keep_default_na=False)
    assert len(q) == r.rows_quarantined, "the quarantine file must hold exactly the quarantined rows"
    return dict(zip(q["source_row"].astype(int), q["reasons"]))


# --- the test --------------------------------------------------------------------------------------------

def _params():
    for name, entry in EXPECTED.items():
        # raises=AssertionError: the known bug shows as a failed check; anything else is a new failure
        marks = [pytest.mark.xfail(reason=entry["xfail"], raises=AssertionError, strict=False)] \
            if entry.get("xfail") else []
        yield pytest.param(name, entry, id=name, marks=marks)


def _as_list(value) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


@pytest.mark.parametrize("name, entry", list(_params()))
def test_corpus_file(name, entry, tmp_path, validator):
    assert ("error" in entry) != ("accepted" in entry), f"{name}: give either 'error' or 'accepted'"
    if "error" in entry:
        with pytest.raises(DisclosureError) as ei:
            run_entry(name, entry, tmp_path, validator)
        err = ei.value
        text = err.render()
        assert type(err) is ERRORS[entry["error"]], f"{type(err).__name__} instead of {entry['error']}: {text}"
        assert name in text, f"the message does not name the file: {text}"
        assert err.fix, f"the message says nothing about what to do: {text}"
        for part in entry.get("message_contains", []):
            assert part in text, f"{part!r} not in: {text}"
        return

    cfg, ing = run_entry(name, entry, tmp_path, validator)
    r = ing.report
    reasons = quarantine_reasons(ing, tmp_path / "out")
    assert r.rows_read == r.rows_accepted + r.rows_quarantined
    expected_q = {int(k): v for k, v in (entry.get("quarantined") or {}).items()}
    assert sorted(reasons) == sorted(expected_q), f"quarantined rows {reasons}"
    for row, parts in expected_q.items():
        for part in _as_list(parts):
            assert part in reasons[row], f"row {row}: {part!r} not in {reasons[row]!r}"
    assert r.rows_accepted == entry["accepted"], f"{r.rows_accepted} accepted, notes: {r.notes}"
    assert r.rows_read == entry["accepted"] + len(expected_q)
    for column, total in (entry.get("totals") or {}).items():
        assert math.isclose(float(ing.frame[column].sum()), float(total), rel_tol=1e-9, abs_tol=1e-12), \
            f"sum of {column}: {ing.frame[column].sum()} != {total}"
    for part in entry.get("notes_contain", []):
        assert any(part in n for n in r.notes), f"{part!r} not in notes {r.notes}"
    if "coverage" in entry:
        _check_coverage(entry["coverage"], cfg, ing, name)
    if "counter_resets" in entry:
        from pipeline.energy.telemetry import counter_energy

        te = counter_energy(ing.frame, max_gap_s=math.inf, max_power_w=2000.0)
        assert len(te.resets) == entry["counter_resets"], te.resets


def _check_coverage(expected, cfg, ing, name: str) -> None:
    from pipeline.energy.meters import check_meter_coverage

    run = lambda: check_meter_coverage(ing.frame, cfg.site("s1"), bounds(cfg), ing.label)
    if expected == "ok":
        run()
        return
    with pytest.raises(ERRORS[expected["error"]]) as ei:
        run()
    text = ei.value.render()
    assert name in text and ei.value.fix
    for part in expected.get("message_contains", []):
        assert part in text, f"{part!r} not in: {text}"
