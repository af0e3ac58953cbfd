"""Quarantine files: the original row as it was in the input, plus why it was set aside.

Written to ``<out>/quarantine/<source>.csv`` with columns ``source_row``, ``failed_expectations``,
``reasons`` and then every original column as text. Nothing quarantined is counted in any figure,
and the report states how many rows each input lost to quarantine.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from pipeline.csv_output import write_csv
from pipeline.sources._text import RawTable


def safe_name(source_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", source_id).strip("._") or "source"


def write_quarantine(out_dir: Path, source_id: str, raw: RawTable, index: pd.Index,
                     reasons: dict[object, list[tuple[str, str]]]) -> str:
    rows = raw.frame.loc[index]
    q = pd.DataFrame({
        "source_row": rows["source_row"].astype("int64"),
        "failed_expectations": [";".join(dict.fromkeys(e for e, _ in reasons[i])) for i in index],
        "reasons": ["; ".join(dict.fromkeys(r for _, r in reasons[i])) for i in index],
    }, index=index)
    q = pd.concat([q, rows.drop(columns=["source_row"])], axis=1)
    rel = Path("quarantine") / f"{safe_name(source_id)}.csv"
    target = out_dir / rel
    write_csv(q, target)
    return rel.as_posix()
