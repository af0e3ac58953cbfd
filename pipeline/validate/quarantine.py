"""Quarantine files: the original row as it was in the input, plus why it was set aside.

Written to ``<out>/quarantine/<source>.csv`` with columns ``source_row``, ``failed_expectations``,
``reasons`` and then every original column as text. Nothing quarantined is counted in any figure,
and the report states how many rows each input lost to quarantine.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pandas as pd

from pipeline.csv_output import write_csv
from pipeline.sources._text import RawTable


def safe_name(source_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", source_id).strip("._") or "source"


def quarantine_rows(raw: RawTable, index: pd.Index, reasons: dict[object, list[tuple[str, str]]]) -> pd.DataFrame:
    rows = raw.frame.loc[index]
    if raw.derived:                     # written out for these rows only (RawTable.derived)
        positions = raw.frame.index.get_indexer(index)
        rows = rows.assign(**{c: raw.column(c, positions).to_numpy() for c in raw.derived})
    q = pd.DataFrame({
        "source_row": rows["source_row"].astype("int64"),
        "failed_expectations": [";".join(dict.fromkeys(e for e, _ in reasons[i])) for i in index],
        "reasons": ["; ".join(dict.fromkeys(r for _, r in reasons[i])) for i in index],
    }, index=index)
    return pd.concat([q, rows.drop(columns=["source_row"])], axis=1)


def quarantine_path(source_id: str) -> str:
    return (Path("quarantine") / f"{safe_name(source_id)}.csv").as_posix()


def write_quarantine(out_dir: Path, source_id: str, raw: RawTable, index: pd.Index,
                     reasons: dict[object, list[tuple[str, str]]]) -> str:
    rel = quarantine_path(source_id)
    write_csv(quarantine_rows(raw, index, reasons), out_dir / rel)
    return rel


class QuarantineWriter:
    """The quarantine file of one input written chunk by chunk (header once), into a temporary name that
    ``commit`` moves into place, so an interrupted or repeated read never leaves a partial file."""

    def __init__(self, out_dir: Path, source_id: str) -> None:
        self.rel = quarantine_path(source_id)
        self.target = out_dir / self.rel
        self.partial = self.target.with_name(self.target.name + ".partial")
        self.rows = 0

    def add(self, raw: RawTable, index: pd.Index, reasons: dict) -> None:
        if not len(index):
            return
        q = quarantine_rows(raw, index, reasons)
        self.partial.parent.mkdir(parents=True, exist_ok=True)
        q.to_csv(self.partial, index=False, lineterminator="\n", quoting=csv.QUOTE_NONNUMERIC,
                 mode="a" if self.rows else "w", header=not self.rows)
        self.rows += len(q)

    def discard(self) -> None:
        self.partial.unlink(missing_ok=True)
        self.rows = 0

    def commit(self) -> str | None:
        if not self.rows:
            return None
        self.partial.replace(self.target)
        return self.rel
