"""Measured inference intensity: request counts per model and month beside the ledger's inference energy.

Request-count CSV (``projections.request_counts``), one row per model and month::

    model,month,requests,successful_requests
    support-ft,2026-07,200000,190000

- ``model``: the scenario's ``measured_key`` (also the project of the ledger's inference rows).
- ``month``: ``YYYY-MM`` in the entity's time zone, as in the ledger.
- ``requests``: every request served, failed attempts included (whole number, plain digits).
- ``successful_requests`` (optional column; a cell may be empty): requests that succeeded; gives a measured
  success rate beside the assumed one.

The energy side is the ledger's ``energy_kwh``, which **includes PUE** (site slices are facility energy; cloud
estimates apply the provider's PUE). Measured Wh per request is therefore facility energy per request;
``project.compare_intensity`` divides by the scenario's PUE to compare it with the assumed IT energy.
"""

from __future__ import annotations

import csv
import io
import math
import re
from pathlib import Path
from typing import IO

import pandas as pd

from pipeline.errors import InputError

REQUIRED = ("model", "month", "requests")
OPTIONAL = ("successful_requests",)
_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
_FIX_NUMBER = "write the count as plain digits (no thousands separators or units), e.g. 120000"

REQUEST_COLUMNS = {
    "model": "string",
    "month": "string",
    "requests": "float64",
    "successful_requests": "float64",   # NaN when not given
    "source_file": "string",
    "source_row": "int64",
}


def _count(text: str, *, column: str, file: str, row: int, required: bool) -> float:
    value = (text or "").strip()
    if not value:
        if required:
            raise InputError(f"'{column}' is empty", file=file, row=row, key=column, fix=_FIX_NUMBER)
        return math.nan
    try:
        number = float(value)
    except ValueError:
        raise InputError(f"'{column}' is '{value}', not a number", file=file, row=row, key=column,
                         fix=_FIX_NUMBER) from None
    if not math.isfinite(number) or number < 0 or number != int(number):
        raise InputError(f"'{column}' is '{value}', not a whole number of requests >= 0", file=file, row=row,
                         key=column, fix=_FIX_NUMBER)
    return number


def read_request_counts(source: str | Path | IO[str], *, label: str | None = None) -> pd.DataFrame:
    """Read a request-count CSV (path or text stream) into ``REQUEST_COLUMNS``.

    Any bad row stops the read with an :class:`InputError` naming the file, the line and the fix: a count is
    an input to a reported projection, so a row is never skipped silently."""
    if isinstance(source, (str, Path)):
        path = Path(source)
        file = label or str(path)
        if not path.is_file():
            raise InputError("request-count file not found", file=file,
                             fix="check projections.request_counts in the config (relative to the config file)")
        try:
            text = path.read_text(encoding="utf-8-sig")
        except UnicodeDecodeError as exc:
            raise InputError(f"is not UTF-8 text ({exc.reason} at byte {exc.start})", file=file,
                             fix="save the request counts as UTF-8 CSV") from None
        stream: IO[str] = io.StringIO(text, newline="")
    else:
        file = label or getattr(source, "name", "<request counts>")
        stream = source
    reader = csv.reader(stream)
    try:
        header = [h.strip().lstrip("\ufeff") for h in next(reader)]
    except StopIteration:
        raise InputError("the file is empty; expected a header row model,month,requests", file=file, row=1,
                         fix="add the header model,month,requests[,successful_requests] and one row per model "
                             "and month") from None
    except csv.Error as exc:
        raise InputError(f"cannot be read as CSV: {exc}", file=file, row=1, fix="check the quoting") from None
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise InputError(f"header lacks column(s) {', '.join(missing)} (found: {', '.join(header) or 'none'})",
                         file=file, row=1, fix="the header must be model,month,requests[,successful_requests]")
    unknown = [c for c in header if c not in REQUIRED + OPTIONAL]
    if unknown:
        raise InputError(f"header has unknown column(s) {', '.join(unknown)}", file=file, row=1,
                         fix="use only model, month, requests and successful_requests")
    dup = sorted({h for h in header if header.count(h) > 1})
    if dup:
        raise InputError(f"repeats column(s) {', '.join(dup)} in its header", file=file, row=1,
                         fix="remove the duplicated columns")
    pos = {c: header.index(c) for c in header}
    rows: list[dict] = []
    first_seen: dict[tuple[str, str], int] = {}
    try:
        for cells in reader:
            line = reader.line_num
            if not cells or all(not c.strip() for c in cells):
                continue
            if len(cells) != len(header):
                raise InputError(f"has {len(cells)} fields where the header has {len(header)}", file=file, row=line,
                                 fix="check for a missing or extra comma, or broken quoting")
            model = cells[pos["model"]].strip()
            if not model:
                raise InputError("'model' is empty", file=file, row=line, key="model",
                                 fix="give the scenario's measured_key")
            month = cells[pos["month"]].strip()
            if not _MONTH.match(month):
                raise InputError(f"'month' is '{month}', not YYYY-MM", file=file, row=line, key="month",
                                 fix="write the month as YYYY-MM, e.g. 2026-07")
            requests = _count(cells[pos["requests"]], column="requests", file=file, row=line, required=True)
            successful = (_count(cells[pos["successful_requests"]], column="successful_requests", file=file,
                                 row=line, required=False) if "successful_requests" in pos else math.nan)
            if not math.isnan(successful) and successful > requests:
                raise InputError(f"successful_requests ({successful:.0f}) exceeds requests ({requests:.0f})",
                                 file=file, row=line, key="successful_requests",
                                 fix="'requests' counts every attempt, failed ones included")
            if (model, month) in first_seen:
                raise InputError(f"repeats model '{model}' month {month} (first on row {first_seen[(model, month)]})",
                                 file=file, row=line, fix="give one row per model and month (sum the counts)")
            first_seen[(model, month)] = line
            rows.append({"model": model, "month": month, "requests": requests, "successful_requests": successful,
                         "source_file": file, "source_row": line})
    except csv.Error as exc:
        raise InputError(f"cannot be read as CSV: {exc}", file=file, row=reader.line_num,
                         fix="check the quoting") from None
    frame = pd.DataFrame(rows, columns=list(REQUEST_COLUMNS))
    return frame.astype(REQUEST_COLUMNS)


def measured_intensity(requests: pd.DataFrame, energy: pd.DataFrame, *,
                       phases: tuple[str, ...] | None = ("inference",)) -> pd.DataFrame:
    """Measured energy per request, one row per (model, month) of ``requests``.

    ``requests``: columns model, month, requests (and optionally successful_requests).
    ``energy``: columns model or project, month, energy_kwh (e.g. the activity ledger); several rows per model
    and month are summed. When it has a ``phase`` column, only ``phases`` count (None: all rows).

    Returns model, month, requests, successful_requests, energy_kwh, energy_rows, wh_per_request
    (energy_kwh x 1000 / requests, on the energy frame's basis: facility energy for the ledger),
    success_rate, note (why a figure is missing)."""
    key = "model" if "model" in energy.columns else "project"
    if key not in energy.columns or "month" not in energy.columns or "energy_kwh" not in energy.columns:
        raise ValueError("energy frame needs columns (model or project), month, energy_kwh")
    e = energy
    if phases is not None and "phase" in e.columns:
        e = e[e["phase"].isin(phases)]
    sums = e.groupby([e[key].astype(str), e["month"].astype(str)], sort=True)["energy_kwh"].agg(["sum", "size"])
    out = []
    for r in requests.itertuples(index=False):
        succ = getattr(r, "successful_requests", math.nan)
        succ = math.nan if succ is None or pd.isna(succ) else float(succ)
        rec = {"model": r.model, "month": r.month, "requests": float(r.requests), "successful_requests": succ,
               "energy_kwh": math.nan, "energy_rows": 0, "wh_per_request": math.nan, "success_rate": math.nan,
               "note": ""}
        if (r.model, r.month) in sums.index:
            kwh, n = sums.loc[(r.model, r.month)]
            rec["energy_kwh"], rec["energy_rows"] = float(kwh), int(n)
            if r.requests > 0:
                rec["wh_per_request"] = float(kwh) * 1000.0 / float(r.requests)
            else:
                rec["note"] = "no requests counted in this month"
        else:
            rec["note"] = "no inference energy for this model and month in the ledger"
        if r.requests > 0 and not math.isnan(succ):
            rec["success_rate"] = succ / float(r.requests)
        out.append(rec)
    cols = ["model", "month", "requests", "successful_requests", "energy_kwh", "energy_rows", "wh_per_request",
            "success_rate", "note"]
    return pd.DataFrame(out, columns=cols)


def measured_per_model(monthly: pd.DataFrame) -> pd.DataFrame:
    """Per model over the months that have both energy and requests: sum of energy / sum of requests.

    Returns model, months_matched, months_unmatched, requests, energy_kwh, wh_per_request, success_rate
    (only when every matched month gives successful_requests, else NaN)."""
    out = []
    for model, grp in monthly.groupby("model", sort=True):
        ok = grp[grp["wh_per_request"].notna()]
        req, kwh = float(ok["requests"].sum()), float(ok["energy_kwh"].sum())
        succ_known = len(ok) > 0 and ok["successful_requests"].notna().all()
        out.append({"model": model, "months_matched": len(ok), "months_unmatched": int(len(grp) - len(ok)),
                    "requests": req, "energy_kwh": kwh,
                    "wh_per_request": kwh * 1000.0 / req if req > 0 else math.nan,
                    "success_rate": float(ok["successful_requests"].sum()) / req if succ_known and req > 0 else math.nan})
    cols = ["model", "months_matched", "months_unmatched", "requests", "energy_kwh", "wh_per_request", "success_rate"]
    return pd.DataFrame(out, columns=cols)
