"""``carbon-disclosure validate``: ingest and validate every source, nothing else, and say what was found.

For a data owner before the quarterly run: each input's format, rows read / accepted / quarantined, the
expectations that failed, the most frequent quarantine reasons and the adapter's notes. Quarantine files and
the Great Expectations Data Docs go to ``--out`` when given (otherwise to a temporary folder, removed).
A problem that would stop the run (a missing column, an unknown meter) stops here too, with the same message.
"""

from __future__ import annotations

import csv
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from pipeline.config import Config
from pipeline.ingest import DiscardRows, ingest_all
from pipeline.period import bounds as period_bounds
from pipeline.result import InputReport
from pipeline.validate.great_expectations import Validator, collected_runs


@dataclass(frozen=True)
class InputCheck:
    report: InputReport
    top_reasons: list[tuple[str, int]]     # most frequent quarantine reasons (reason text, rows)


def check_inputs(cfg: Config, out_dir: Path | None = None) -> list[InputCheck]:
    with tempfile.TemporaryDirectory(prefix="carbon-disclosure-validate-") as tmp:
        work = Path(out_dir) if out_dir else Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        with collected_runs():
            validator = Validator(work / "validation")
            # only reports are wanted: no accepted row is kept in memory, whatever the size of the inputs
            ingested = ingest_all(cfg, validator, period_bounds(cfg), work, sink_factory=DiscardRows)
            if out_dir:
                validator.build_data_docs()
        return [InputCheck(i.report, _top_reasons(work, i.report)) for i in ingested]


def _top_reasons(work: Path, report: InputReport, n: int = 5) -> list[tuple[str, int]]:
    if not report.quarantine_file:
        return []
    counts: Counter = Counter()
    with open(work / report.quarantine_file, newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            for reason in (row.get("reasons") or "").split("; "):
                # the raw value quoted after the reason differs per row: count the reason itself
                counts[reason.split(" (")[0].strip()] += 1
    return counts.most_common(n)


def render(checks: list[InputCheck]) -> str:
    lines = []
    total_q = 0
    for c in checks:
        r = c.report
        total_q += r.rows_quarantined
        lines.append(f"{r.source_id} ({r.kind}, {r.path}): {r.rows_read:,} rows read, {r.rows_accepted:,} accepted, "
                     f"{r.rows_quarantined:,} quarantined")
        for f in r.failed_expectations:
            lines.append(f"    failed: {f.expectation}{' on ' + f.column if f.column else ''} "
                         f"({f.unexpected_count:,} row(s)){' - stops the run' if f.stops_run else ''}")
        for reason, n in c.top_reasons:
            lines.append(f"    {n:,} x {reason}")
        for note in r.notes:
            lines.append(f"    note: {note}")
    lines.append(f"{len(checks)} input(s) checked; {total_q:,} row(s) quarantined in all (nothing quarantined is "
                 "counted in any figure). No problem stops the run.")
    return "\n".join(lines)
