"""The PDF disclosure: a :class:`~pipeline.result.Disclosure` rendered through ``templates/report.html.j2``.

Headline figures come from ``d.summary`` only (the same document as summary.json); the breakdown tables are
group sums over ``d.ledger`` and add up to the same totals. Nothing here computes an emission.

Safety: the template autoescapes (project names, instance types, file paths are user-controlled text), and
WeasyPrint may only read files inside ``templates/``: no network, no other file (:class:`TemplatesOnlyFetcher`).
Determinism: no creation/modification date, a PDF identifier derived from the run, a fixed-salt SVG chart.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import io
import math
import mimetypes
import numbers
import os
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pandas as pd
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from pipeline import flags
from pipeline.errors import OutputError
from pipeline.report.charts import PHASE_LABELS, monthly_phase_chart_svg, projection_chart_svg
from pipeline.report.summary import PHASE_KEYS
from pipeline.result import Disclosure

TEMPLATES_DIR = Path(__file__).resolve().parents[2] / "templates"
TEMPLATE_NAME = "report.html.j2"
STYLESHEET_NAME = "report.css"

SCOPE3_CATEGORY_LABELS = {
    "1": "Cat. 1 Purchased goods and services — cloud computing and data centre services",
    "2": "Cat. 2 Capital goods",
    "3": "Cat. 3 Fuel- and energy-related activities",
    "8": "Cat. 8 Upstream leased assets",
}

CONSOLIDATION_LABELS = {
    "operational_control": "Operational control",
    "financial_control": "Financial control",
}

DQ_TITLES = {
    "billing_completeness": "Billing completeness: spend covered by an energy estimate, per provider and service",
    "provider_reconciliation": "Reconciliation: provider-reported carbon vs our estimate (kg CO2e)",
    "scope3_primary_data": "Scope 3 from primary data (provider-reported)",
    "embodied_cloud_hardware": "Embodied emissions of cloud hardware (reported separately, not in the totals)",
    "certificates": "Energy attribute certificates (market-based Scope 2)",
    "input_notes": "Notes on the inputs",
    "meter_gaps": "Meter gaps: every uncovered stretch of the period, its duration and treatment",
    "gpu_telemetry": "GPU telemetry: measured energy, gaps and attribution to jobs",
    "unestimated_billing": "Billing rows not turned into energy",
    "defaults_used": "Defaults used",
}



class ResourceRefused(OutputError):
    """The PDF renderer tried to load something outside the templates folder (network or another file)."""


# --------------------------------------------------------------------------------------------------------
# formatting filters (presentation only: figures stay unrounded everywhere else)

def _is_missing(value) -> bool:
    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _fixed(value, decimals: int) -> str:
    if _is_missing(value):
        return "—"
    x = float(value)
    if round(x, decimals) == 0:
        x = 0.0  # never print "-0.000"
    return f"{x:,.{decimals}f}"


def t3(value) -> str:
    """tCO2e with 3 decimals and thousands separators."""
    return _fixed(value, 3)


def mwh(value) -> str:
    """MWh with 3 decimals and thousands separators."""
    return _fixed(value, 3)


def kwh(value) -> str:
    """kWh with 1 decimal and thousands separators."""
    return _fixed(value, 1)


def money(value) -> str:
    return _fixed(value, 2)


def pct(fraction, decimals: int = 1) -> str:
    """A share (0..1) as a percentage."""
    if _is_missing(fraction):
        return "—"
    return f"{float(fraction) * 100:,.{decimals}f} %"


def num(value, key: str = "") -> str:
    """Generic number: integers with separators; by key: shares as %, money with 2 decimals; other floats 3."""
    if _is_missing(value):
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, numbers.Integral):
        return str(int(value)) if "year" in key.lower() else f"{int(value):,}"
    if isinstance(value, numbers.Real):
        k = key.lower()
        if any(w in k for w in ("share", "fraction")):
            return pct(value)
        if any(w in k for w in ("cost", "amount", "spend")):
            return money(value)
        return _fixed(value, 3)
    return str(value)


def factor(value) -> str:
    """An emission factor at full precision: at least 3 and at most 6 decimals, no trailing zeros beyond 3."""
    if _is_missing(value):
        return "—"
    text = f"{float(value):,.6f}"
    whole, _, frac = text.partition(".")
    frac = frac.rstrip("0").ljust(3, "0")
    return f"{whole}.{frac}"


def txt(value) -> str:
    """Text cell: missing or empty -> em dash, integral floats without '.0'."""
    if _is_missing(value) or (isinstance(value, str) and not value.strip()):
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return str(int(value))
    return str(value)


def label(key: str) -> str:
    return DQ_TITLES.get(key, str(key).replace("_", " ").capitalize())


def _is_number(value) -> bool:
    return isinstance(value, numbers.Number) and not isinstance(value, bool)


# --------------------------------------------------------------------------------------------------------
# context

def _records(df: pd.DataFrame) -> list[dict]:
    out = []
    for rec in df.to_dict("records"):
        out.append({k: (None if _is_missing(v) else (v.item() if hasattr(v, "item") else v))
                    for k, v in rec.items()})
    return out


def _keyed(ledger: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    led = ledger.copy()
    for k in keys:
        led[k] = led[k].astype("string").fillna("")
    grouped = led.groupby(keys, sort=True, dropna=False).agg(
        lb_t=("emissions_lb_kg_co2e", "sum"), mb_t=("emissions_mb_kg_co2e", "sum"),
        energy_mwh=("energy_kwh", "sum"), cost=("cost", "sum")).reset_index()
    for c in ("lb_t", "mb_t", "energy_mwh"):
        grouped[c] = grouped[c] / 1000.0
    return grouped


def _totals(rows: list[dict]) -> dict:
    return {c: sum(float(r[c]) for r in rows) for c in ("lb_t", "mb_t", "energy_mwh")}


PDF_TABLE_ROWS = 40      # longer breakdown / input tables are shortened in the PDF (whole in the XLSX and CSVs)


def capped(rows: list[dict], where: str, limit: int = PDF_TABLE_ROWS) -> list[dict]:
    """The ``limit - 1`` rows with the most location-based tCO2e (in their original order) and one row summing
    the others, so the PDF's length does not grow with the number of instance types or projects; the totals
    are unchanged."""
    if len(rows) <= limit:
        return rows
    keep = set(sorted(range(len(rows)), key=lambda i: (-float(rows[i]["lb_t"]), i))[:limit - 1])
    rest = [r for i, r in enumerate(rows) if i not in keep]
    # one cell across the table's key columns (templates/report.html.j2 ledger_table)
    other = {"other_rows": f"{len(rest):,} more rows with less location-based tCO2e each (all rows: {where})",
             **{c: sum(float(r.get(c) or 0.0) for r in rest) for c in ("lb_t", "mb_t", "energy_mwh")}}
    if all("cost" in r for r in rest):
        currencies = {r.get("cost_currency") for r in rest}
        other["cost"] = sum(float(r["cost"]) for r in rest) if len(currencies) == 1 else float("nan")
        other["cost_currency"] = next(iter(currencies)) if len(currencies) == 1 else "mixed"
    return [r for i, r in enumerate(rows) if i in keep] + [other]


def grouped_inputs(inputs: list[dict], limit: int = PDF_TABLE_ROWS) -> list[dict]:
    """Input files as PDF rows: one per file while there are at most ``limit`` of them, else the files of one
    config source (``source:file`` ids of a glob) summed into one row (every file stays in inputs.csv)."""
    if len(inputs) <= limit:
        return inputs
    out: dict[str, dict] = {}
    for i in inputs:
        key = i["source"].split(":", 1)[0]
        row = out.setdefault(key, {**i, "source": key, "files": 0, "rows_read": 0, "rows_accepted": 0,
                                   "rows_quarantined": 0, "quarantine_files": 0, "notes": []})
        row["files"] += 1
        for c in ("rows_read", "rows_accepted", "rows_quarantined"):
            row[c] += i[c]
        row["quarantine_files"] += 1 if i["quarantine_file"] else 0
        row["notes"] += [n for n in i["notes"] if n not in row["notes"]][:5 - len(row["notes"])]
    for row in out.values():
        if row["files"] > 1:
            row["source"] = f"{row['source']} ({row['files']} files)"
            row["quarantine_file"] = (f"{row['quarantine_files']} file(s) in quarantine/" if row["quarantine_files"]
                                      else None)
    return list(out.values())


def grouped_failed(failed: list[dict], n_inputs: int, limit: int = PDF_TABLE_ROWS) -> list[dict]:
    """Failed expectations per source (files of one glob summed) when the inputs are grouped in the PDF."""
    if n_inputs <= limit:
        return failed
    out: dict[tuple, dict] = {}
    for f in failed:
        key = (f["source"].split(":", 1)[0], f["expectation"], f.get("column"), f.get("stops_run"))
        row = out.setdefault(key, {**f, "source": key[0], "unexpected_count": 0})
        row["unexpected_count"] += int(f.get("unexpected_count") or 0)
    return list(out.values())


def breakdowns(ledger: pd.DataFrame) -> dict:
    """Group sums of the ledger (tCO2e location- and market-based, MWh). Each adds up to the summary totals."""
    by_contract = _records(_keyed(ledger, ["contract_id", "contract_kind", "site_or_region", "grid_zone",
                                           "scope", "category"]))
    phase_rows = {r["phase"]: r for r in _records(_keyed(ledger, ["phase"]))}
    order = list(PHASE_KEYS) + sorted(set(phase_rows) - set(PHASE_KEYS))
    by_phase = [phase_rows.get(p, {"phase": p, "lb_t": 0.0, "mb_t": 0.0, "energy_mwh": 0.0, "cost": 0.0})
                for p in order]
    by_project = _records(_keyed(ledger, ["project"]))
    cloud = ledger[ledger["contract_kind"] == "cloud"]
    by_instance = _records(_keyed(cloud, ["contract_id", "site_or_region", "service", "instance_type",
                                          "cost_currency"]))
    where = "XLSX sheet Ledger, ledger.csv"
    return {
        "contract": {"rows": capped(by_contract, where), "total": _totals(by_contract)},
        "phase": {"rows": by_phase, "total": _totals(by_phase)},
        "project": {"rows": capped(by_project, where), "total": _totals(by_project)},
        "instance": {"rows": capped(by_instance, where), "total": _totals(by_instance)},
    }


def _rule_text(rule) -> str:
    m = rule.match
    parts = [f"{k} {v}" for k, v in (("job name", m.job_name), ("account", m.account), ("partition", m.partition),
                                     ("namespace", m.namespace)) if v]
    parts += [f"tag {k}={v}" for k, v in sorted(m.tags.items())] + [f"label {k}={v}" for k, v in sorted(m.labels.items())]
    return " and ".join(parts)


def phase_rule_rows(d: Disclosure) -> list[dict]:
    """Energy and emissions per phase rule that matched (and the unattributed rest), with the rule's match."""
    texts = {(r.id or f"phase_rules[{i}]"): _rule_text(r) for i, r in enumerate(d.config.phase_rules)}
    led = d.ledger.assign(phase_rule=d.ledger["phase_rule"].fillna(""))
    total = float(led["energy_kwh"].sum())
    rows = _records(_keyed(led, ["phase", "phase_rule"]))
    for r in rows:
        r["match"] = texts.get(r["phase_rule"], "") if r["phase_rule"] else (
            "no rule matched / energy not explained by any job" if r["phase"] == "unallocated" else "")
        r["share"] = (r["energy_mwh"] * 1000.0 / total) if total else None
    return sorted(rows, key=lambda r: (r["phase"] == "unallocated", r["phase"], r["phase_rule"]))


def defaults_shares(d: Disclosure) -> list[dict]:
    """The run's default flags (pipeline.flags) in the shape the template shows."""
    return [{"flag": f["flag"], "label": f["meaning"], "rows": f["ledger_rows"], "energy_mwh": f["energy_mwh"],
             "lb_t": f["tco2e_location_based"], "share": f["share_of_total_location_based"]}
            for f in flags.defaults_shares(d.ledger)]


def basis_shares(ledger: pd.DataFrame, total_lb_t: float) -> list[dict]:
    """Location-based tCO2e by energy basis (metered / measured / estimated) and its share of the total."""
    led = ledger.assign(energy_basis=ledger["energy_basis"].astype("string").fillna("(none)"))
    sums = led.groupby("energy_basis", sort=True)["emissions_lb_kg_co2e"].sum()
    return [{"basis": str(b), "lb_t": float(v) / 1000.0, "share": (float(v) / 1000.0 / total_lb_t) if total_lb_t else None}
            for b, v in sums.items()]


def factor_rows(d: Disclosure) -> list[dict]:
    """Factor table rows, flagging lifecycle-boundary factors used on Scope 2 rows (Scope 2 is combustion only)."""
    led = d.ledger
    s2 = led[led["scope"] == "2"]
    used_s2 = set(s2["factor_id_lb"].dropna().astype(str)) | set(s2["factor_id_mb"].dropna().astype(str))
    rows = _records(d.factors)
    for r in rows:
        boundary = str(r.get("boundary") or "").lower()
        r["used_scope2"] = str(r.get("factor_id")) in used_s2
        r["lifecycle_scope2"] = r["used_scope2"] and ("lifecycle" in boundary or "life-cycle" in boundary
                                                     or "life cycle" in boundary)
    return rows


def _month_rows(summary: dict) -> tuple[list[dict], dict]:
    rows = []
    for month, phases in (summary.get("by_month_phase_tco2e") or {}).items():
        vals = {p: float(phases.get(p, 0.0) or 0.0) for p in PHASE_KEYS}
        rows.append({"month": month, **vals, "total": sum(vals.values())})
    total = {p: sum(r[p] for r in rows) for p in (*PHASE_KEYS, "total")}
    return rows, total


def pdf_identifier(d: Disclosure) -> bytes:
    """A stable PDF /ID: the same run gives the same identifier."""
    seed = "\x1f".join([d.run_id, d.config_sha256, d.code_version, d.factor_library_version])
    return hashlib.sha256(seed.encode("utf-8")).hexdigest()[:32].encode("ascii")


def context(d: Disclosure) -> dict:
    s = d.summary
    if not s:
        raise ValueError("Disclosure.summary is empty: build it with pipeline.report.summary.build_summary first")
    em = s["emissions_tco2e"]
    month_rows, month_total = _month_rows(s)
    inputs = [
        {"source": i.source_id, "kind": i.kind, "path": i.path, "sha256": i.sha256, "rows_read": i.rows_read,
         "rows_accepted": i.rows_accepted, "rows_quarantined": i.rows_quarantined,
         "quarantine_file": i.quarantine_file, "notes": list(i.notes)}
        for i in d.inputs
    ]
    scope3_rows = [{"category": c, "label": SCOPE3_CATEGORY_LABELS.get(str(c), f"Cat. {c}"), "value": v}
                   for c, v in sorted(em["scope3_by_category"].items(), key=lambda kv: (len(kv[0]), kv[0]))]
    return {
        "d": d,
        "s": s,
        "em": em,
        "energy": s["energy_mwh"],
        "period": s["period"],
        "entity": s["entity"],
        "consolidation": CONSOLIDATION_LABELS.get(s["consolidation_approach"], s["consolidation_approach"]),
        "run": s["run"],
        "scope3_rows": scope3_rows,
        "phase_keys": PHASE_KEYS,
        "phase_labels": PHASE_LABELS,
        "month_rows": month_rows,
        "month_total": month_total,
        "chart_svg": Markup(monthly_phase_chart_svg(s)),  # generated from numbers and fixed labels only
        "projections": [{**m, "chart": Markup(projection_chart_svg(m, list(d.config.period.months()),
                                                                    id_prefix=f"projection{i}"))}
                        for i, m in enumerate((s.get("projections") or {}).get("models", []))],
        "bd": breakdowns(d.ledger),
        "defaults": defaults_shares(d),
        "bases": basis_shares(d.ledger, em["total_location_based"]),
        "decisions": _records(d.decisions),
        "allocation": _records(d.allocation),
        "phase_rules": phase_rule_rows(d),
        "factors": factor_rows(d),
        "inputs": grouped_inputs(inputs),
        "failed": grouped_failed(s["validation"]["failed_expectations"], len(inputs)),
        "validation": s["validation"],
        # defaults are shown with the methodology; the rest of data_quality is rendered generically
        "data_quality": {k: v for k, v in (d.data_quality or {}).items()
                         if k not in ("defaults_used", "scope3_categories_2_and_3", "scope2_hourly")},
        "hourly": (d.data_quality or {}).get("scope2_hourly", {}),
        "vc": (d.data_quality or {}).get("scope3_categories_2_and_3", {}),
        "methodology": d.methodology,
    }


def environment() -> Environment:
    env = Environment(loader=FileSystemLoader(str(TEMPLATES_DIR)),
                      autoescape=select_autoescape(enabled_extensions=("html", "j2", "html.j2"),
                                                   default_for_string=True, default=True),
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    env.filters.update(t3=t3, mwh=mwh, kwh=kwh, pct=pct, num=num, txt=txt, money=money, factor=factor,
                       label=label)
    env.tests["number"] = _is_number
    env.tests["mapping_list"] = lambda v: (isinstance(v, (list, tuple)) and len(v) > 0
                                           and all(isinstance(x, dict) for x in v))
    return env


def render_html(d: Disclosure) -> str:
    """The report as one HTML document (stylesheet linked as ``report.css`` relative to the templates folder)."""
    return environment().get_template(TEMPLATE_NAME).render(**context(d))


# --------------------------------------------------------------------------------------------------------
# PDF

def templates_only_fetcher(root: Path = TEMPLATES_DIR):
    """A WeasyPrint URL fetcher that serves files inside ``root`` and refuses everything else."""
    from weasyprint.urls import URLFetcher, URLFetcherResponse

    root = root.resolve()

    class TemplatesOnlyFetcher(URLFetcher):
        def __init__(self) -> None:
            super().__init__(allowed_protocols={"file"}, allow_redirects=False, fail_on_errors=True)

        def fetch(self, url, headers=None):  # noqa: ARG002 - signature fixed by WeasyPrint
            parts = urlsplit(url)
            if parts.scheme.lower() != "file" or parts.netloc not in ("", "localhost"):
                raise ResourceRefused(f"the PDF renderer may not load '{url}'",
                                      fix=f"reference only files inside {root}")
            path = Path(unquote(parts.path)).resolve()
            if not path.is_relative_to(root) or not path.is_file():
                raise ResourceRefused(f"the PDF renderer may not load '{url}' (not a file inside {root})",
                                      fix=f"reference only files inside {root}")
            ctype = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            return URLFetcherResponse(path.as_uri(), body=path.read_bytes(), headers={"Content-Type": ctype})

    return TemplatesOnlyFetcher()


@contextlib.contextmanager
def _fixed_font_timestamps(d: Disclosure):
    """Font subsets made with fontTools carry a 'modified' timestamp of *now* unless SOURCE_DATE_EPOCH is set
    (reproducible-builds convention). Pin it (to the day after the period's end, UTC) while rendering, unless
    the caller has set it. Process-wide while it lasts: do not render PDFs from several threads at once."""
    if "SOURCE_DATE_EPOCH" in os.environ:
        yield
        return
    end = d.config.period.end + dt.timedelta(days=1)
    os.environ["SOURCE_DATE_EPOCH"] = str(int(dt.datetime(end.year, end.month, end.day, tzinfo=dt.UTC).timestamp()))
    try:
        yield
    finally:
        os.environ.pop("SOURCE_DATE_EPOCH", None)


PDF_VARIANT = "pdf/a-3b"   # archival; PDF/A-3 allows the embedded files below (each with its relationship)


def inputs_csv(d: Disclosure) -> bytes:
    """The list of inputs with their SHA-256, as CSV (embedded in the PDF)."""
    import csv
    import io

    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["source", "kind", "path", "sha256", "rows_read", "rows_accepted", "rows_quarantined"])
    for i in d.inputs:
        w.writerow([i.source_id, i.kind, i.path, i.sha256, i.rows_read, i.rows_accepted, i.rows_quarantined])
    return buf.getvalue().encode("utf-8")


def _render_time(d: Disclosure) -> dt.datetime:
    """The timestamp written into the PDF (attachments): the day after the period's end, UTC - not now."""
    end = d.config.period.end + dt.timedelta(days=1)
    return dt.datetime(end.year, end.month, end.day, tzinfo=dt.UTC)


def write_pdf(d: Disclosure, path: Path, attachments: list[tuple[str, bytes, str]] = ()) -> None:
    """Render ``d`` to a PDF/A-3b file at ``path``. ``attachments``: (file name, bytes, description) embedded
    as associated files (relationship Data) - e.g. summary.json and the XLSX; the input list is always added."""
    from weasyprint import HTML, Attachment
    from weasyprint.urls import FatalURLFetchingError

    html = render_html(d)
    fetcher = templates_only_fetcher()
    files = [*attachments, ("inputs.csv", inputs_csv(d), "Inputs of this run with their SHA-256 and row counts")]
    try:
        with _fixed_font_timestamps(d):
            doc = HTML(string=html, base_url=TEMPLATES_DIR.as_uri() + "/", url_fetcher=fetcher)
            when = _render_time(d)   # fixed, so the same run gives the same bytes
            att = [Attachment(file_obj=io.BytesIO(data), name=name, description=desc, relationship="Data",
                              url_fetcher=fetcher, created=when, modified=when) for name, data, desc in files]
            doc.write_pdf(Path(path), pdf_identifier=pdf_identifier(d), pdf_variant=PDF_VARIANT,
                          attachments=att)
    except FatalURLFetchingError as exc:
        cause = exc.__cause__
        if isinstance(cause, ResourceRefused):
            raise cause from None
        raise ResourceRefused(str(exc)) from cause
