"""Property tests for every source adapter (``pipeline.ingest.ADAPTERS``): whatever a file of the format holds,
reading it either stops with a ``DisclosureError`` (InputError, ValidationFailed, ConfigError) or accounts for
every row. Nothing else may escape: anything else is an internal error (exit 3) for the user.

Inputs start from each format's real header and rows (repo fixtures, the demo data, or the header the adapter's
own tests use) and are mutated at three levels:
    structure  columns dropped / duplicated / reordered / renamed; rows short or long; lines dropped, repeated,
               reordered; JSON documents with any JSON value where a series, point, label or value should be
    cells      random unicode, huge numbers, NaN / inf text, NULL literals, quotes, delimiters, timestamps
    bytes      truncation, random bytes, NUL, a BOM, CRLF, empty lines, gzip (also of the mutated bytes)

Two properties per adapter:
    test_adapter_accounts_for_every_row    read_raw + to_canonical (called as ingest calls them): every raw row
        is kept in the canonical frame, folded into a kept row, quarantined by the adapter, or malformed (which
        ingest quarantines) - never dropped silently - and indexes stay consistent.
    test_ingest_rows_in_equal_accepted_plus_quarantined    the full ``ingest_source`` path (header suite, row
        suite, quarantine file): rows_read = rows_accepted + rows_quarantined, the quarantine file holds
        exactly the quarantined rows, the accepted frame holds no more rows than were accepted.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.config import config_from_dict
from pipeline.errors import DisclosureError
from pipeline.ingest import ADAPTERS, ingest_source
from pipeline.period import bounds
from pipeline.validate.great_expectations import Validator

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "sources" / "fixtures"
DEMO = REPO / "examples" / "demo" / "data"

# examples per adapter; a deeper local run: CD_PROPERTY_EXAMPLES=500 pytest tests/test_adapter_properties.py
ADAPTER_EXAMPLES = int(os.environ.get("CD_PROPERTY_EXAMPLES", "40"))      # read_raw + to_canonical: fast
INGEST_EXAMPLES = int(os.environ.get("CD_PROPERTY_EXAMPLES", "10"))       # runs the GE suites (~0.3 s an example)


def _head(path: Path, lines: int) -> str:
    with open(path, encoding="utf-8", newline="") as fh:
        return "".join(fh.readline() for _ in range(lines))


# --- seeds: the format's real header and a few real rows -------------------------------------------------------

@dataclass(frozen=True)
class Table:
    """A delimited format: header + rows, mutated as a table, then as text."""

    text: str
    name: str
    delimiter: str = ","
    quoting: bool = True          # csv quoting applies (False: cells joined as the tool writes them)
    prefix: str = ""              # text before the table (an nvidia-smi capture's header and fences)


@dataclass(frozen=True)
class Lines:
    """A line-oriented format (Prometheus text exposition): lines mutated token by token."""

    text: str
    name: str


@dataclass(frozen=True)
class JsonRecords:
    """JSON lines, or one JSON document wrapping the records (``wrap``: "array" or "odata")."""

    records: tuple
    name: str
    wrap: str | None = None


@dataclass(frozen=True)
class PromJson:
    """A Prometheus HTTP API response (query_range matrix / query vector)."""

    metrics: tuple
    labels: tuple
    name: str
    seed: str = ""


def _records(path: Path, lines: int) -> tuple:
    return tuple(json.loads(line) for line in _head(path, lines).splitlines() if line.strip())


CUR_HEADER = ["identity/LineItemId", "identity/TimeInterval", "bill/PayerAccountId", "lineItem/UsageAccountId",
              "lineItem/LineItemType", "lineItem/UsageStartDate", "lineItem/UsageEndDate", "lineItem/ProductCode",
              "lineItem/UsageType", "lineItem/AvailabilityZone", "lineItem/UsageAmount", "lineItem/CurrencyCode",
              "lineItem/UnblendedCost", "product/ProductName", "product/instanceType", "product/region",
              "product/regionCode", "product/productFamily", "pricing/unit", "resourceTags/user:project",
              "resource_tags"]
CUR_ROWS = [
    ["li-1", "2026-07-01T00:00:00Z/2026-07-02T00:00:00Z", "111111111111", "222222222222", "Usage",
     "2026-07-01T00:00:00Z", "2026-07-02T00:00:00Z", "AmazonEC2", "USE1-BoxUsage:p4d.24xlarge", "us-east-1a", "24",
     "USD", "786.48", "Amazon Elastic Compute Cloud", "p4d.24xlarge", "US East (N. Virginia)", "us-east-1",
     "Compute Instance", "Hrs", "llm", '{"user_team": "ml"}'],
    ["li-2", "2026-07-01T00:00:00Z/2026-07-02T00:00:00Z", "111111111111", "222222222222", "SavingsPlanNegation",
     "2026-07-01T00:00:00Z", "2026-07-02T00:00:00Z", "AmazonEC2", "EBS:VolumeUsage.gp3", "", "100", "USD", "-8",
     "", "", "", "", "Storage", "GB-Mo", "", ""],
]
OCI_HEADER = ["lineItem/referenceNo", "lineItem/tenantId", "lineItem/intervalUsageStart", "lineItem/intervalUsageEnd",
              "product/service", "product/compartmentId", "product/region", "usage/billedQuantity", "cost/productSku",
              "product/Description", "cost/myCost", "cost/currencyCode", "cost/billingUnitReadable",
              "cost/skuUnitDescription", "lineItem/isCorrection", "lineItem/backreferenceNo",
              "tags/Oracle-Tags.CreatedBy"]
OCI_ROWS = [
    ["r1", "ocid1.tenancy.oc1..t", "2023-11-13T10:00Z", "2023-11-13T11:00:00Z", "COMPUTE", "ocid1.compartment.oc1..c",
     "us-sanjose-1", "8", "B98415", "Compute - GPU - H100", "80", "USD", "1 NONE HOURS GPUS", "GPU Per Hour", "false",
     "", "a@b"],
    ["r2", "ocid1.tenancy.oc1..t", "2023-11-13T10:00Z", "2023-11-13T11:00:00Z", "BLOCK_STORAGE", "ocid1.c",
     "us-sanjose-1", "10", "B91961", "Block Volume - Storage", "0.3", "USD", "1 GiB MONTHS STORAGE_SIZE",
     "GB Months", "true", "r0", ""],
]
GCP_RECORD = {
    "billing_account_id": "01ABCD-234567-89EF01",
    "service": {"id": "6F81-5844-456A", "description": "Compute Engine"},
    "sku": {"id": "SKU-1", "description": "Nvidia Tesla A100 GPU running in Americas"},
    "usage_start_time": "2026-07-01 00:00:00 UTC", "usage_end_time": "2026-07-01 01:00:00 UTC",
    "project": {"id": "p-train", "number": "123", "name": "P-TRAIN"},
    "labels": [{"key": "team", "value": "ml"}],
    "system_labels": [{"key": "compute.googleapis.com/machine_spec", "value": "a2-highgpu-1g"}],
    "location": {"location": "us-central1", "country": "US", "region": "us-central1", "zone": None},
    "cost": 5.87, "currency": "USD",
    "usage": {"amount": 7200, "unit": "seconds", "amount_in_pricing_units": 2.0, "pricing_unit": "hour"},
    "credits": [{"name": "SUD", "amount": -0.5, "type": "SUSTAINED_USAGE_DISCOUNT"}],
    "cost_type": "regular",
}


def _flat(record: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in record.items():
        if isinstance(v, dict):
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v if isinstance(v, str) or v is None else json.dumps(v)
    return out


def _csv_text(header: list[str], rows: list[list[str]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue()


_GCP_FLAT = _flat(GCP_RECORD)
NVIDIA_CAPTURE_PREFIX = (
    "################################################################################\n"
    "# nvidia_gpu_exporter GPU capture\n"
    "################################################################################\n"
    "collected_at:   2026-07-14T08:12:38Z\n"
    "masked:         yes\n"
    "\n"
    "################################################################################\n"
    "# idle :: query-gpu (csv, what the exporter parses)\n"
    "# $ nvidia-smi --query-gpu=timestamp,index,uuid,name,power.draw,utilization.gpu --format=csv\n"
    "################################################################################\n")
DCGM_METRICS = ("DCGM_FI_DEV_POWER_USAGE", "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION", "DCGM_FI_DEV_GPU_UTIL",
                "DCGM_FI_DEV_SM_CLOCK", "")
DCGM_LABELS = ("gpu", "UUID", "device", "modelName", "Hostname", "hostname", "instance", "hpc_job", "GPU_I_ID",
               "namespace", "pod")
KEPLER_METRICS = ("kepler_node_cpu_joules_total", "kepler_container_cpu_joules_total", "kepler_node_gpu_joules_total",
                  "kepler_node_cpu_active_joules_total", "kepler_container_package_joules_total",
                  "kepler_container_joules_total", "kepler_node_platform_joules_total", "kepler_node_cpu_watts", "")
KEPLER_LABELS = ("zone", "node_name", "instance", "container_id", "pod_name", "mode", "gpu", "gpu_uuid", "gpu_name",
                 "package", "path", "source")

SEEDS: dict[str, list] = {
    "focus": [Table(_head(DEMO / "billing" / "aws_focus_2026Q3.csv", 5), "focus.csv")],
    "aws_cur": [Table(_csv_text(CUR_HEADER, CUR_ROWS), "cur.csv")],
    "gcp_billing": [Table(_csv_text(list(_GCP_FLAT), [[("" if v is None else v) for v in _GCP_FLAT.values()]] * 2),
                          "gcp.csv"),
                    JsonRecords((GCP_RECORD, {**GCP_RECORD, "cost_type": "tax", "labels": {"a": "b"}}), "gcp.jsonl")],
    "azure_cost": [Table(_head(DEMO / "billing" / "azure_ea_2026Q3.csv", 5), "azure.csv")],
    "oci_cost": [Table(_csv_text(OCI_HEADER, OCI_ROWS), "oci.csv")],
    "aws_carbon": [Table(_head(FIXTURES / "provider_carbon" / "aws_carbon_emissions.csv", 6), "aws_carbon.csv")],
    "gcp_carbon": [Table(_head(FIXTURES / "provider_carbon" / "gcp_carbon_footprint.csv", 4), "gcp_carbon.csv"),
                   JsonRecords(_records(FIXTURES / "provider_carbon" / "gcp_carbon_footprint.jsonl", 4),
                               "gcp_carbon.jsonl")],
    "azure_carbon": [Table(_head(FIXTURES / "provider_carbon" / "azure_emissions.csv", 6), "azure_carbon.csv"),
                     JsonRecords(tuple(csv.DictReader(io.StringIO(
                         _head(FIXTURES / "provider_carbon" / "azure_emissions.csv", 6)))), "azure_carbon.json",
                         wrap="odata")],
    "slurm_sacct": [Table(_head(DEMO / "slurm" / "lon-colo-1_sacct_2026Q3.txt", 7), "sacct.txt", delimiter="|",
                          quoting=False)],
    "codecarbon": [Table(_head(FIXTURES / "codecarbon" / "edge_cases.csv", 6), "emissions.csv")],
    "meter_readings": [Table(_head(DEMO / "meters" / "lon-colo-1_2026Q3.csv", 6), "meters.csv")],
    "asset_register": [Table(_head(FIXTURES / "asset_register_ok.csv", 4), "assets.csv")],
    "grid_intensity_hourly": [Table(_head(FIXTURES / "grid_intensity_hourly" / "plain_london_dst.csv", 6), "gi.csv"),
                              Table(_head(FIXTURES / "grid_intensity_hourly"
                                          / "electricity_maps_hourly_2022_headers.csv", 5), "em.csv")],
    "certificate_generation_hourly": [Table(_head(FIXTURES / "instrument_hourly" / "ppa_solar_noon.csv", 5),
                                            "ppa.csv")],
    "nvidia_smi": [Table(_head(FIXTURES / "nvidia_smi" / "units_bst.csv", 5), "gpu01.csv", delimiter=", ",
                         quoting=False),
                   Table(_head(FIXTURES / "nvidia_smi" / "restarted.csv", 8), "gpu02.log", delimiter=", ",
                         quoting=False),
                   Table(_head(FIXTURES / "nvidia_smi" / "units_bst.csv", 4), "capture.txt", delimiter=", ",
                         quoting=False, prefix=NVIDIA_CAPTURE_PREFIX)],
    "dcgm": [Lines(_head(FIXTURES / "dcgm" / "mig_scrape.txt", 12), "dcgm.txt"),
             PromJson(DCGM_METRICS, DCGM_LABELS, "dcgm.json", (FIXTURES / "dcgm" / "range_2gpu_3ts.json").read_text(
                 encoding="utf-8"))],
    "kepler": [Lines(_head(FIXTURES / "kepler" / "kepler_0.11_metrics.prom", 14), "kepler.prom"),
               Lines(_head(FIXTURES / "kepler" / "kepler_0.9_scrape.prom", 14), "kepler9.prom"),
               PromJson(KEPLER_METRICS, KEPLER_LABELS, "kepler.json",
                        (FIXTURES / "kepler" / "query_range_0.11.json").read_text(encoding="utf-8"))],
}


def test_every_adapter_has_a_property_seed():
    assert set(SEEDS) == set(ADAPTERS), "add seeds for new adapters to SEEDS"


# --- cell, value and byte strategies -------------------------------------------------------------------------

ODD_CELLS = [
    "", " ", "NULL", "null", "None", "N/A", "NA", "[N/A]", "[Not Supported]", "nan", "NaN", "-nan", "inf", "-inf",
    "Infinity", "+Inf", "-Inf", "-0", "0", "1", "-1", "3.5", "1e308", "1e309", "-1e309", "1E+05", "9" * 400,
    "0.000000000000000000001", "0x1F", "1,5", "1_000", "١٢٣", "12 W", "100 %", '"', '""', "'", "\\", "\\\"", "|",
    ",", ";", "\t", "\r", "\n", "\x00", "\x1b[31m", "{}", "[]", "{", '{"a": {"b": [1, 2]}}',
    '[{"key": "k", "value": "v"}]', '"k": "v","k2": "v2"', "[" * 3000 + "]" * 3000, '{"a":' * 2000 + "1" + "}" * 2000,
    "true", "false", "Unknown", "2026-07-01T00:00:00Z", "2026-07-01 00:00:00", "2026-07-01T00:00:00+01:00",
    "2026/07/01 00:00:00.000", "2026-07-01", "07/01/2026", "20260701", "202607", "1782860400", "1782860400000",
    "99999999999999999999", "9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z", "2026-02-30T00:00:00Z",
    "2026-10-25T01:30:00", "2026-03-29T01:30:00", "24:00", "kWh", "Wh", "MWh", "J", "MTCO2e", "kgCO2e", "Usage",
    "Tax", "Credit", "Purchase", "Scope 2", "scope 9", "direct", "lifecycle", "Hrs", "GB-Mo", "10 Hours",
    "1 GiB MONTHS STORAGE_SIZE", "gres/gpu:h100=8,gres/gpu=8", "gres/gpu:h100=99999999999999999999",
    "8 x NVIDIA H100 80GB HBM3", "2 x NVIDIA A1001 x NVIDIA T4", "1234.batch", "1234.0", "USE1-BoxUsage:p5.48xlarge",
    "HostBoxUsage:p4d.24xlarge", "Standard_ND96asr_v4", "Virtual Machines", "LON1-PDU-A", "M1", "GB",
]
CELLS = st.one_of(
    st.sampled_from(ODD_CELLS),
    st.text(max_size=12),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(-(10 ** 30), 10 ** 30).map(str),
)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(10 ** 20), 10 ** 20) | st.floats() | st.text(max_size=8)
    | st.sampled_from(ODD_CELLS),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8)
RANDOM_BYTES = st.binary(min_size=1, max_size=24)


@st.composite
def mutate_bytes(draw, data: bytes) -> bytes:
    """Byte-level damage: truncation, random bytes, a BOM, CRLF, empty lines, NUL, a repeated line."""
    for op in draw(st.lists(st.sampled_from(["truncate", "insert", "bom", "crlf", "blank", "nul", "repeat",
                                             "latin1"]), max_size=2)):
        pos = draw(st.integers(0, len(data)))
        if op == "truncate":
            data = data[:pos]
        elif op == "insert":
            data = data[:pos] + draw(RANDOM_BYTES) + data[pos:]
        elif op == "bom":
            data = b"\xef\xbb\xbf" + data
        elif op == "crlf":
            data = data.replace(b"\n", b"\r\n")
        elif op == "blank":
            data = data[:pos] + b"\n\n \n" + data[pos:]
        elif op == "nul":
            data = data[:pos] + b"\x00" + data[pos:]
        elif op == "repeat":
            lines = data.splitlines(keepends=True)
            if lines:
                k = draw(st.integers(0, len(lines) - 1))
                data = b"".join(lines[:k + 1] + [lines[k]] * draw(st.integers(1, 3)) + lines[k + 1:])
        elif op == "latin1":
            data = data[:pos] + "é".encode("latin-1") + data[pos:]
    return data


def _split_table(seed: Table) -> tuple[list[str], list[list[str]]]:
    reader = csv.reader(io.StringIO(seed.text), delimiter=seed.delimiter[0], skipinitialspace=True)
    rows = [r for r in reader if r]
    return rows[0], rows[1:]


@st.composite
def table_text(draw, seed: Table) -> str:
    header, rows = _split_table(seed)
    n = len(header)
    cols = list(range(n))
    for op in draw(st.lists(st.sampled_from(["drop", "dup", "shuffle", "rename", "extra"]), max_size=2)):
        if op == "drop" and cols:
            cols = [c for c in cols if c not in set(draw(st.lists(st.sampled_from(cols), max_size=3)))]
        elif op == "dup" and cols:
            cols.insert(draw(st.integers(0, len(cols))), draw(st.sampled_from(cols)))
        elif op == "shuffle":
            cols = draw(st.permutations(cols))
        elif op == "rename" and cols:
            k = draw(st.integers(0, len(cols) - 1))
            header = header + [draw(st.sampled_from([header[cols[k]].upper(), header[cols[k]].replace("/", "_"),
                                                     " " + header[cols[k]] + " ", draw(st.text(max_size=8))]))]
            cols[k] = len(header) - 1
        elif op == "extra":
            header = header + [draw(st.text(max_size=8))]
            cols.append(len(header) - 1)
    out_rows = []
    for _ in range(draw(st.integers(0, 10))):
        base = list(draw(st.sampled_from(rows))) if rows else []
        base = (base + [""] * len(header))[:len(header)]
        row = [base[c] for c in cols]
        for _ in range(draw(st.integers(0, 3))):
            if row:
                row[draw(st.integers(0, len(row) - 1))] = draw(CELLS)
        shape = draw(st.sampled_from(["same"] * 8 + ["short", "long"]))
        if shape == "short" and row:
            row = row[:draw(st.integers(0, len(row) - 1))]
        elif shape == "long":
            row = row + [draw(CELLS)]
        out_rows.append(row)
    head = [header[c] for c in cols]
    if seed.quoting:
        buf = io.StringIO()
        w = csv.writer(buf, delimiter=seed.delimiter, lineterminator="\n",
                       quoting=draw(st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL])))
        w.writerow(head)
        w.writerows(out_rows)
        return buf.getvalue()
    return seed.prefix + "".join(seed.delimiter.join(r) + "\n" for r in [head] + out_rows)


_QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"')


@st.composite
def lines_text(draw, seed: Lines) -> str:
    lines = seed.text.splitlines()
    out = []
    for _ in range(draw(st.integers(0, 14))):
        line = draw(st.sampled_from(lines))
        op = draw(st.sampled_from(["keep", "keep", "token", "label", "raw", "scraped_at"]))
        if op == "token":
            tokens = line.split(" ")
            tokens[draw(st.integers(0, len(tokens) - 1))] = draw(CELLS)
            line = " ".join(tokens)
        elif op == "label":
            spans = list(_QUOTED.finditer(line))
            if spans:
                m = draw(st.sampled_from(spans))
                line = line[:m.start(1)] + draw(st.sampled_from([draw(st.text(max_size=8)), "\\", '\\"', "\\n",
                                                                 draw(CELLS)])) + line[m.end(1):]
        elif op == "raw":
            line = draw(st.sampled_from([draw(st.text(max_size=30)), draw(CELLS)]))
        elif op == "scraped_at":
            line = "# scraped_at " + draw(CELLS)
        out.append(line)
    return "\n".join(out) + draw(st.sampled_from(["\n", ""]))


@st.composite
def records_text(draw, seed: JsonRecords) -> str:
    records = []
    for _ in range(draw(st.integers(0, 6))):
        rec = dict(draw(st.sampled_from(seed.records)))
        for _ in range(draw(st.integers(0, 3))):
            key = draw(st.sampled_from(list(rec) + ["extra", "project", "usage"]))
            if draw(st.booleans()):
                rec[key] = draw(st.one_of(JSON_VALUES, CELLS))
            else:
                rec.pop(key, None)
        records.append(draw(st.one_of(st.just(rec), st.just(rec), st.just(rec), JSON_VALUES)))
    if seed.wrap == "odata":
        return json.dumps({"value": records})
    if seed.wrap == "array":
        return json.dumps(records)
    lines = [json.dumps(r) for r in records]
    if draw(st.booleans()) and lines:
        lines.insert(draw(st.integers(0, len(lines))), draw(st.sampled_from(["", "not json", "{", "[1, 2]",
                                                                            '{"a": ' * 3000])))
    return "\n".join(lines) + "\n"


@st.composite
def prom_json_text(draw, seed: PromJson) -> str:
    if draw(st.integers(0, 4)) == 0:          # the real response, as text to damage
        return seed.seed
    label_key = st.one_of(st.sampled_from(seed.labels), st.text(max_size=6))
    label_value = st.one_of(st.sampled_from(["0", "1", "GPU-1", "node-a", "package", "dram", "core", "psys",
                                             "NVIDIA H100 80GB HBM3", "dynamic", "idle"]), st.text(max_size=6),
                            JSON_VALUES)
    metric = st.builds(lambda name, labels: ({"__name__": name} if name else {}) | labels,
                       st.sampled_from(seed.metrics), st.dictionaries(label_key, label_value, max_size=5))
    ts = st.one_of(st.integers(1_751_364_000, 1_790_000_000), st.floats(), st.integers(-(10 ** 20), 10 ** 20),
                   st.sampled_from(["1751364000", None, True]), JSON_VALUES)
    value = st.one_of(st.sampled_from(["100.5", "0", "-1", "NaN", "+Inf", "-Inf", "1e400", ""]), CELLS, JSON_VALUES)
    point = st.one_of(st.tuples(ts, value).map(list), st.tuples(ts, value).map(list), JSON_VALUES)
    series = st.fixed_dictionaries({"metric": st.one_of(metric, metric, JSON_VALUES)},
                                   optional={"values": st.one_of(st.lists(point, max_size=4), JSON_VALUES),
                                             "value": point})
    result_type = st.sampled_from(["matrix", "matrix", "vector", "scalar", "string", None])
    doc = st.fixed_dictionaries({
        "status": st.sampled_from(["success", "success", "error", None]),
        "data": st.one_of(st.fixed_dictionaries({"resultType": result_type,
                                                 "result": st.one_of(st.lists(series, max_size=4), JSON_VALUES)}),
                          JSON_VALUES)})
    return json.dumps(draw(doc))


@st.composite
def input_files(draw, kind: str) -> tuple[str, bytes]:
    """(file name, bytes) of a mutated input of the format."""
    seed = draw(st.sampled_from(SEEDS[kind]))
    if isinstance(seed, Table):
        text = table_text(seed)
    elif isinstance(seed, Lines):
        text = lines_text(seed)
    elif isinstance(seed, JsonRecords):
        text = records_text(seed)
    else:
        text = prom_json_text(seed)
    data = draw(mutate_bytes(draw(text).encode("utf-8", "surrogatepass")))
    name = seed.name
    if draw(st.integers(0, 5)) == 0:
        data, name = gzip.compress(data, mtime=0), name + ".gz"
        if draw(st.integers(0, 3)) == 0:      # a damaged gzip
            data = draw(mutate_bytes(data))
    return name, data


# --- running an adapter as ingest does ----------------------------------------------------------------------

CFG = config_from_dict({
    "entity": {"name": "P", "consolidation_approach": "operational_control", "currency": "EUR"},
    "period": "2026-Q3",
    "contracts": [{"id": "cloud", "kind": "cloud", "provider": "aws"},
                  {"id": "colo", "kind": "colocation", "provider": "X", "site": "s1"}],
    "sites": [{"id": "s1", "grid_zone": "GB", "pue": 1.2, "timezone": "Europe/London",
               "gres_gpu_types": {"h100": "H100-SXM"},
               "meters": [{"id": "LON1-PDU-A"}, {"id": "LON1-PDU-B"}, {"id": "M1"}]}],
    "sources": [{"id": kind, "kind": kind, "path": f"{kind}.csv",
                 **({"contracts": ["cloud"]} if ADAPTERS[kind].FAMILY in ("usage", "provider_carbon") else {}),
                 **({"site": "s1"} if ADAPTERS[kind].FAMILY in ("job", "meter", "power") else {})}
                for kind in sorted(ADAPTERS)],
})
SOURCES = {s.kind: s for s in CFG.sources}


def _to_canonical(adapter, raw, label: str):
    """Call the adapter's to_canonical with the arguments ingest gives its family (pipeline/ingest.py::_parse)."""
    family = adapter.FAMILY
    site = CFG.sites[0]
    if family == "job":
        return adapter.to_canonical(raw, source_label=label, site_id=site.id, site_zone=site.timezone,
                                    default_gpu_model=site.gpu_model, gres_gpu_types=site.gres_gpu_types)
    if family == "meter":
        return adapter.to_canonical(raw, source_label=label, meter_sites={m.id: site.id for m in site.meters},
                                    interval_minutes=60, register="interval", rollover_kwh=None)
    if family == "power":
        return adapter.to_canonical(raw, source_label=label, site_zone=site.timezone)
    if family == "grid_intensity":
        return adapter.to_canonical(raw, source_label=label, default_boundary=None)
    return adapter.to_canonical(raw, source_label=label)


def _header_suite_columns(kind: str) -> set[str]:
    """Columns the ``<kind>.header`` suite requires: ingest stops (ValidationFailed) before to_canonical
    when one is missing, so to_canonical may assume them."""
    suite = json.loads((REPO / "schemas" / "expectations" / f"{kind}.header.json").read_text(encoding="utf-8"))
    return {e["kwargs"]["column"] for e in suite["expectations"] if e["type"] == "expect_column_to_exist"}


def _check_accounting(raw, parsed) -> None:
    index = raw.frame.index
    assert index.is_unique
    rows = set(index)
    kept = list(parsed.frame.index)
    assert parsed.frame.index.is_unique, "canonical frame repeats a raw row"
    assert set(kept) <= rows, "canonical frame has rows that are not in the raw frame"
    assert set(parsed.quarantine) <= rows, "adapter quarantines rows that are not in the raw frame"
    assert set(parsed.folded) <= rows, "adapter folds rows that are not in the raw frame"
    assert not set(parsed.folded) & set(kept), "a folded row is also kept"
    for i, (target, _note) in parsed.folded.items():
        assert target in set(kept), f"row {i} is folded into row {target}, which is not kept"
    for i, reasons in parsed.quarantine.items():
        assert reasons and all(isinstance(code, str) and isinstance(why, str) for code, why in reasons)
    accounted = set(kept) | set(parsed.folded) | set(parsed.quarantine) | set(raw.malformed)
    assert accounted == rows, f"row(s) {sorted(rows - accounted)[:5]} dropped silently"


def _write(tmp: Path, name: str, data: bytes) -> Path:
    path = tmp / name
    path.write_bytes(data)
    return path


SETTINGS = {"deadline": None, "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large,
                                                         HealthCheck.function_scoped_fixture]}


@pytest.mark.parametrize("kind", sorted(SEEDS))
def test_adapter_accounts_for_every_row(kind):
    adapter = ADAPTERS[kind]
    required = _header_suite_columns(kind)

    @settings(max_examples=ADAPTER_EXAMPLES, **SETTINGS)
    @given(file=input_files(kind))
    def prop(file):
        with tempfile.TemporaryDirectory() as tmp:
            path = _write(Path(tmp), *file)
            try:
                raw = adapter.read_raw(path)
            except DisclosureError:
                return
            if not required <= set(raw.columns):
                return                      # ingest's header suite stops here (ValidationFailed)
            try:
                parsed = _to_canonical(adapter, raw, path.name)
            except DisclosureError:
                return
            _check_accounting(raw, parsed)

    prop()


@pytest.fixture(scope="module")
def validator(tmp_path_factory):
    return Validator(tmp_path_factory.mktemp("gx"))


@pytest.mark.parametrize("kind", sorted(SEEDS))
def test_ingest_rows_in_equal_accepted_plus_quarantined(kind, validator):
    src = SOURCES[kind]

    @settings(max_examples=INGEST_EXAMPLES, **SETTINGS)
    @given(file=input_files(kind))
    def prop(file):
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            path = _write(tmp, *file)
            out = tmp / "out"
            out.mkdir()
            try:
                ing = ingest_source(CFG, src, kind, path, validator, bounds(CFG), out)
            except DisclosureError:
                return
            r = ing.report
            assert r.rows_read == r.rows_accepted + r.rows_quarantined
            assert 0 <= r.rows_quarantined <= r.rows_read
            assert len(ing.frame) <= r.rows_accepted
            if r.rows_quarantined:
                with open(out / r.quarantine_file, newline="", encoding="utf-8") as fh:
                    quarantined = list(csv.DictReader(fh))
                assert len(quarantined) == r.rows_quarantined
                assert all(q["reasons"] for q in quarantined)
            else:
                assert r.quarantine_file is None

    prop()


@pytest.mark.parametrize("kind", sorted(SEEDS))
def test_unmutated_seeds_are_read_as_their_format(kind, tmp_path):
    """The seeds are real inputs of the format, so the mutations start from the real thing."""
    adapter = ADAPTERS[kind]
    for n, seed in enumerate(SEEDS[kind]):
        if isinstance(seed, Table):
            text = seed.prefix + seed.text
        elif isinstance(seed, Lines):
            text = seed.text
        elif isinstance(seed, JsonRecords):
            text = (json.dumps({"value": list(seed.records)}) if seed.wrap == "odata"
                    else "".join(json.dumps(r) + "\n" for r in seed.records))
        else:
            text = seed.seed
        path = tmp_path / f"{n}_{seed.name}"
        path.write_text(text, encoding="utf-8")
        raw = adapter.read_raw(path)
        parsed = _to_canonical(adapter, raw, path.name)
        _check_accounting(raw, parsed)
        assert len(raw.frame) > 0, seed.name
        # every row of a seed is read; the Kepler 0.11 scrape has no sample times (quarantined without scraped_at)
        assert len(parsed.frame) > 0 or seed.name == "kepler.prom", seed.name


def test_header_only_meter_file_is_ingested(validator, tmp_path):
    """Found by the ingest property: the meter overlap check raised TypeError on a file with no rows."""
    path = tmp_path / "meters.csv"
    path.write_text("meter_id,timestamp,energy,unit\n", encoding="utf-8")
    ing = ingest_source(CFG, SOURCES["meter_readings"], "m", path, validator, bounds(CFG), tmp_path)
    assert ing.report.rows_read == ing.report.rows_accepted == 0
