"""One way to write CSV outputs (ledger, quarantine, decisions): text fields always quoted, so values with
commas, quotes, CR or LF from user-controlled inputs survive a round trip; LF line ends; no index."""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd


def write_csv(df: pd.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(path, index=False, lineterminator="\n", quoting=csv.QUOTE_NONNUMERIC)
