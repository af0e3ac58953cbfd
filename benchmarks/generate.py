#!/usr/bin/env python3
"""Generate large, realistic benchmark inputs for carbon-disclosure (synthetic, deterministic for a seed).

    python benchmarks/generate.py --billing-rows 1000000 --power-samples 1000000 --out /tmp/cd-bench-1m

writes into OUT:

    disclosure.yaml                           config the pipeline accepts (contracts, site, meters, phase rules)
    data/billing/focus_2026Q3.parquet         FOCUS 1.2 export, hourly rows, one row group per --chunk-rows
    data/billing/cur2_2026Q3.parquet          AWS CUR 2.0 (Data Exports) of a second payer, with --cur-rows N
    data/telemetry/dcgm_YYYY-MM-DD.json       DCGM power of 16 nodes x 8 H100 (Prometheus range-query JSON,
                                              one file per day as a query_range is limited to 11,000 points)
    data/meters/lon-colo-1_2026Q3.csv         15-minute IT-load meter readings of the colocation site
    data/slurm/lon-colo-1_sacct_2026Q3.txt    sacct --parsable2 output of the same cluster
    benchmark_inputs.json                     what was generated: sizes, row counts, seed, step, wall time

Billing rows (FOCUS and CUR): row i is hour i * HOURS // N of the quarter and resource i % R, R = ceil(N / HOURS),
so every resource has about one row per hour, as in an hourly export. Each resource has an account, a region,
tags (project, workload, team, env; 8 % untagged) and a product: GPU instances (p5 / p5e / p5en / p4d / p4de /
g5 / g3), CPU instances (m5 / c5 / t2 / t3 / m4 / m7i-flex), EBS and S3 storage, data transfer, plus requests and
Lambda GB-seconds (usage the pipeline does not convert to energy, as in real exports) and credit, tax and
Savings Plan fee lines. Every region and instance type is in evidence/ with power figures, so the usage rows
are estimable.

Telemetry: the power-sample count sets the sampling step (a divisor of 86,400 s) over 128 GPUs x 92 days; the
step is written to max_gap_s in the config (3 x step). 100 M samples = a 10 s step, ~2.3 GB of JSON.

--resources R spreads the rows over R resources (a larger export's variety, hence ledger size, with fewer rows);
--no-embodied turns the cloud contract's embodied_emissions off (on by default, as in the demo).

Everything is written in chunks (a chunk of billing rows, one GPU-day of samples): memory stays flat in the
output size. Same arguments and seed, byte-identical files. All names, accounts and figures are fictional.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

UTC = dt.UTC
LONDON = ZoneInfo("Europe/London")
# 2026-Q3 in the entity zone (Europe/London, BST all quarter): [2026-06-30T23:00Z, 2026-09-30T23:00Z)
P_START = dt.datetime(2026, 7, 1, tzinfo=LONDON).astimezone(UTC)
P_END = dt.datetime(2026, 10, 1, tzinfo=LONDON).astimezone(UTC)
HOURS = int((P_END - P_START).total_seconds() // 3600)          # 2208
DAYS = HOURS // 24                                              # 92
SPAN_S = HOURS * 3600
P_START_S = int(P_START.timestamp())

# --- the cloud estate -----------------------------------------------------------------------------------------
PAYER = ("210987654321", "Benchmark Holdings Ltd (synthetic)")
CUR_PAYER = ("109876543210", "Benchmark Subsidiary GmbH (synthetic)")
REGIONS = [  # region, name, usage-type prefix, weight
    ("us-east-1", "US East (N. Virginia)", "USE1", 0.30), ("us-east-2", "US East (Ohio)", "USE2", 0.10),
    ("us-west-2", "US West (Oregon)", "USW2", 0.15), ("eu-west-1", "Europe (Ireland)", "EU", 0.12),
    ("eu-west-2", "Europe (London)", "EUW2", 0.10), ("eu-central-1", "Europe (Frankfurt)", "EUC1", 0.10),
    ("eu-north-1", "Europe (Stockholm)", "EUN1", 0.05), ("ap-northeast-1", "Asia Pacific (Tokyo)", "APN1", 0.05),
    ("ap-south-1", "Asia Pacific (Mumbai)", "APS3", 0.03),
]
# instance type, on-demand USD / hour (plausible list prices), weight within its kind
GPU_TYPES = [("p5.48xlarge", 98.32, 0.10), ("p5e.48xlarge", 108.0, 0.03), ("p5en.48xlarge", 110.0, 0.02),
             ("p4d.24xlarge", 32.77, 0.10), ("p4de.24xlarge", 40.97, 0.04), ("g5.xlarge", 1.006, 0.22),
             ("g5.2xlarge", 1.212, 0.12), ("g5.4xlarge", 1.624, 0.08), ("g5.12xlarge", 5.672, 0.14),
             ("g5.24xlarge", 8.144, 0.05), ("g5.48xlarge", 16.288, 0.06), ("g3.4xlarge", 1.14, 0.04)]
CPU_TYPES = [("m5.large", 0.096, 0.20), ("m5.2xlarge", 0.384, 0.15), ("c5.xlarge", 0.17, 0.15),
             ("c5.2xlarge", 0.34, 0.10), ("c5.4xlarge", 0.68, 0.06), ("t3.medium", 0.0416, 0.12),
             ("t3.micro", 0.0104, 0.08), ("m7i-flex.xlarge", 0.19, 0.06), ("m4.10xlarge", 2.0, 0.03),
             ("t2.medium", 0.0464, 0.05)]
# kind -> share of resources
KIND_WEIGHTS = {"gpu": 0.22, "cpu": 0.38, "storage": 0.16, "network": 0.10, "other": 0.10,
                "credit": 0.03, "tax": 0.005, "fee": 0.005}
PROJECTS = ["foundation", "legal-assistant", "search-ranker", "support-bot", "vision-qc", "forecasting",
            "recsys", "doc-ai", "speech", "fraud", "ads-ranking", "translation", "code-assist", "data-platform",
            "web", "internal-tools"]
TEAMS = ["research", "platform", "product", "data"]
ENVS = ["prod", "staging", "dev"]
GPU_WORKLOADS = (["training", "fine-tuning", "inference", "evaluation", None], [0.35, 0.15, 0.30, 0.10, 0.10])
CPU_WORKLOADS = (["inference", None], [0.3, 0.7])
N_ACCOUNTS = 24

FOCUS_SCHEMA = pa.schema([
    ("BillingAccountId", pa.string()), ("BillingAccountName", pa.string()), ("SubAccountId", pa.string()),
    ("SubAccountName", pa.string()), ("ProviderName", pa.string()), ("PublisherName", pa.string()),
    ("InvoiceIssuerName", pa.string()), ("BillingCurrency", pa.string()),
    ("BillingPeriodStart", pa.timestamp("ms", tz="UTC")), ("BillingPeriodEnd", pa.timestamp("ms", tz="UTC")),
    ("ChargePeriodStart", pa.timestamp("ms", tz="UTC")), ("ChargePeriodEnd", pa.timestamp("ms", tz="UTC")),
    ("ChargeCategory", pa.string()), ("ChargeClass", pa.string()), ("ChargeDescription", pa.string()),
    ("ChargeFrequency", pa.string()), ("ServiceName", pa.string()), ("ServiceCategory", pa.string()),
    ("RegionId", pa.string()), ("RegionName", pa.string()), ("AvailabilityZone", pa.string()),
    ("ResourceId", pa.string()), ("ResourceName", pa.string()), ("ResourceType", pa.string()),
    ("SkuId", pa.string()), ("SkuPriceId", pa.string()), ("SkuMeter", pa.string()),
    ("ConsumedQuantity", pa.float64()), ("ConsumedUnit", pa.string()), ("PricingQuantity", pa.float64()),
    ("PricingUnit", pa.string()), ("ListCost", pa.float64()), ("BilledCost", pa.float64()),
    ("EffectiveCost", pa.float64()), ("ContractedCost", pa.float64()), ("Tags", pa.string()),
    ("x_ServiceCode", pa.string()), ("x_UsageType", pa.string()), ("x_Operation", pa.string()),
])

# --- the colocation GPU cluster (telemetry, Slurm, meters) ----------------------------------------------------
N_NODES, GPUS_PER_NODE = 16, 8
N_GPUS = N_NODES * GPUS_PER_NODE
MINUTES = SPAN_S // 60
SACCT_NOW = P_END + dt.timedelta(days=1, hours=9)
METERS = {"LON1-PDU-A": range(1, 9), "LON1-PDU-B": range(9, 17)}
NODE_IDLE_KW, SWITCH_KW, GPU_IDLE_W = 1.1, 0.4, 70.0
NODE_KW_PER_GPU_W = 1.12 / 1000.0      # a busy GPU's node share (CPU, memory, fans) on top of its own draw
PUE = 1.35


def _tokens(rng: np.random.Generator, n: int, length: int, alphabet: str = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
            ) -> list[str]:
    chars = np.array(list(alphabet))
    return ["".join(row) for row in chars[rng.integers(0, len(chars), size=(n, length))]]


def _hex_ids(rng: np.random.Generator, n: int, prefix: str, length: int = 17) -> list[str]:
    return [prefix + "".join(row) for row in np.array(list("0123456789abcdef"))[rng.integers(0, 16, size=(n, length))]]


def _dict_column(codes: np.ndarray, table: list) -> pa.Array:
    """Plain string column from integer codes into a small table (no Python object per row)."""
    arr = pa.DictionaryArray.from_arrays(pa.array(codes.astype(np.int32), mask=codes < 0),
                                         pa.array(table, type=pa.string()))
    return arr.dictionary_decode()


# ================================================================================================================
# Billing
# ================================================================================================================

@dataclass
class Product:
    kind: str
    service: str
    category: str
    region: int          # index into REGIONS, -1 for none
    usage_type: str      # x_UsageType
    sku_meter: str
    operation: str
    unit: str | None
    price: float         # USD per unit
    description: str
    resource_type: str
    service_code: str
    frequency: str
    charge_category: str
    instance_type: str | None = None
    sku_id: str = ""
    sku_price_id: str = ""


def build_products(rng: np.random.Generator) -> list[Product]:
    products: list[Product] = []
    for ri, (region, _name, prefix, _w) in enumerate(REGIONS):
        for itype, price, _ in GPU_TYPES + CPU_TYPES:
            kind = "gpu" if any(itype == g[0] for g in GPU_TYPES) else "cpu"
            for market, factor in (("BoxUsage", 1.0), ("SpotUsage", 0.35)):
                products.append(Product(
                    kind, "Amazon Elastic Compute Cloud", "Compute", ri, f"{prefix}-{market}:{itype}",
                    f"{market}:{itype}", "RunInstances", "Hours", round(price * factor, 4),
                    f"${price * factor:.4f} per {'On Demand' if factor == 1.0 else 'Spot'} Linux {itype} Instance Hour",
                    "instance", "AmazonEC2", "Usage-Based", "Usage", itype))
        products += [
            Product("storage", "Amazon Elastic Compute Cloud", "Storage", ri, f"{prefix}-EBS:VolumeUsage.gp3",
                    "EBS:VolumeUsage.gp3", "CreateVolume-Gp3", "GB-Mo", 0.08,
                    "$0.08 per GB-month of General Purpose (gp3) provisioned storage", "volume", "AmazonEC2",
                    "Usage-Based", "Usage"),
            Product("storage", "Amazon Simple Storage Service", "Storage", ri, f"{prefix}-TimedStorage-ByteHrs",
                    "TimedStorage-ByteHrs", "StandardStorage", "GB-Mo", 0.023,
                    "$0.023 per GB - first 50 TB / month of storage used", "bucket", "AmazonS3", "Usage-Based",
                    "Usage"),
            Product("network", "AWS Data Transfer", "Networking", ri, f"{prefix}-DataTransfer-Out-Bytes",
                    "DataTransfer-Out-Bytes", "", "GB", 0.09, "$0.090 per GB - first 10 TB / month data transfer out",
                    "", "AWSDataTransfer", "Usage-Based", "Usage"),
            Product("network", "AWS Data Transfer", "Networking", ri, f"{prefix}-DataTransfer-Regional-Bytes",
                    "DataTransfer-Regional-Bytes", "", "GB", 0.01, "$0.010 per GB - regional data transfer",
                    "", "AWSDataTransfer", "Usage-Based", "Usage"),
            Product("other", "Amazon CloudWatch", "Management and Governance", ri, f"{prefix}-CW:Requests",
                    "CW:Requests", "GetMetricData", "Requests", 0.00001, "$0.01 per 1,000 metrics requested",
                    "", "AmazonCloudWatch", "Usage-Based", "Usage"),
            Product("other", "AWS Lambda", "Compute", ri, f"{prefix}-Lambda-GB-Second", "Lambda-GB-Second",
                    "Invoke", "Lambda-GB-Second", 0.0000166667, "AWS Lambda - Total Compute", "function",
                    "AWSLambda", "Usage-Based", "Usage"),
            Product("other", "Amazon Simple Storage Service", "Storage", ri, f"{prefix}-Requests-Tier1",
                    "Requests-Tier1", "PutObject", "Requests", 0.000005, "$0.005 per 1,000 PUT requests",
                    "bucket", "AmazonS3", "Usage-Based", "Usage"),
        ]
    # lines that are no usage (no region): credits, tax, Savings Plan fees
    products += [
        Product("credit", "Amazon Elastic Compute Cloud", "Compute", -1, "Credit", "", "", None, -0.8,
                "AWS Activate promotional credit (synthetic)", "", "AmazonEC2", "One-Time", "Credit"),
        Product("credit", "Amazon Simple Storage Service", "Storage", -1, "Credit", "", "", None, -0.2,
                "Service credit (synthetic)", "", "AmazonS3", "One-Time", "Credit"),
        Product("tax", "Amazon Elastic Compute Cloud", "Compute", -1, "Tax", "", "", None, 12.0,
                "Sales tax for the billing period", "", "AmazonEC2", "Recurring", "Tax"),
        Product("fee", "Savings Plans for AWS Compute usage", "Compute", -1, "ComputeSP:3yrNoUpfront", "", "",
                None, 25.0, "3 year No Upfront Compute Savings Plan", "", "ComputeSavingsPlans", "Recurring",
                "Purchase"),
    ]
    sku = _tokens(rng, len(products), 16)
    price_ids = _tokens(rng, len(products), 10)
    for p, s, q in zip(products, sku, price_ids):
        p.sku_id, p.sku_price_id = (s, f"{s}.{q}") if p.kind not in ("credit", "tax") else ("", "")
    return products


@dataclass
class Estate:
    """Resources of one payer: per-resource arrays (indices into the tables)."""
    payer: tuple[str, str]
    accounts: list[tuple[str, str]]
    products: list[Product]
    tags: list[str]                   # JSON text of each tag combination ("{}" = untagged)
    tag_dicts: list[dict]
    product: np.ndarray               # per resource
    account: np.ndarray
    tag: np.ndarray
    az: np.ndarray                    # 0..2 -> a/b/c
    fractional: np.ndarray            # instance runs part of each hour
    size_gb: np.ndarray               # storage size
    resource_id: list[str]
    resource_name: list[str]


def build_estate(rng: np.random.Generator, n_resources: int, payer: tuple[str, str], products: list[Product]
                 ) -> Estate:
    acct_ids = [str(x) for x in rng.integers(10**11, 10**12 - 1, size=N_ACCOUNTS)]
    accounts = [(a, f"{TEAMS[i % len(TEAMS)]}-{ENVS[(i // len(TEAMS)) % len(ENVS)]}-{i:02d}")
                for i, a in enumerate(acct_ids)]
    reg_w = np.array([r[3] for r in REGIONS])
    acct_regions = [rng.choice(len(REGIONS), size=int(rng.integers(1, 4)), replace=False, p=reg_w / reg_w.sum())
                    for _ in accounts]
    acct_projects = [rng.choice(len(PROJECTS), size=int(rng.integers(1, 4)), replace=False) for _ in accounts]

    # kinds in fixed proportions (at least one resource of each kind), in random order
    kinds = list(KIND_WEIGHTS)
    counts = [max(1, int(n_resources * w)) for w in KIND_WEIGHTS.values()]
    counts[kinds.index("cpu")] = max(1, n_resources - (sum(counts) - counts[kinds.index("cpu")]))
    kind = rng.permutation(np.repeat(np.arange(len(kinds)), counts))
    n_resources = len(kind)
    account = rng.integers(0, N_ACCOUNTS, size=n_resources)
    by_key: dict[tuple, list[int]] = {}
    for i, p in enumerate(products):
        by_key.setdefault((p.kind, p.region), []).append(i)
    type_w = {t: w for t, _, w in GPU_TYPES + CPU_TYPES}

    tag_index: dict[str, int] = {"{}": 0}
    tag_dicts: list[dict] = [{}]
    product = np.empty(n_resources, dtype=np.int32)
    tag = np.zeros(n_resources, dtype=np.int32)
    for r in range(n_resources):
        k = kinds[kind[r]]
        a = account[r]
        region = int(rng.choice(acct_regions[a])) if k not in ("credit", "tax", "fee") else -1
        choices = by_key[(k, region)]
        if k in ("gpu", "cpu"):
            w = np.array([type_w[products[i].instance_type] * (0.9 if products[i].sku_meter.startswith("Box") else 0.1)
                          for i in choices])
            product[r] = choices[int(rng.choice(len(choices), p=w / w.sum()))]
        else:
            product[r] = choices[int(rng.integers(0, len(choices)))]
        if k in ("credit", "tax", "fee") or rng.random() < 0.08:
            continue                                   # untagged (credits / tax / fees carry no resource tags)
        workloads, ww = GPU_WORKLOADS if k == "gpu" else CPU_WORKLOADS
        wl = workloads[int(rng.choice(len(workloads), p=ww))] if k in ("gpu", "cpu") else None
        d = {"project": PROJECTS[int(rng.choice(acct_projects[a]))], "team": accounts[a][1].split("-")[0],
             "env": accounts[a][1].split("-")[1]}
        if wl:
            d["workload"] = wl
        text = json.dumps(d, sort_keys=True)
        if text not in tag_index:
            tag_index[text] = len(tag_dicts)
            tag_dicts.append(d)
        tag[r] = tag_index[text]
    ids, names = [], []
    raw = _hex_ids(rng, n_resources, "")
    for r in range(n_resources):
        p = products[product[r]]
        if p.resource_type == "instance":
            ids.append("i-0" + raw[r][:16])
            names.append(f"{p.kind}-{p.instance_type.split('.')[0]}-{r}")
        elif p.resource_type == "volume":
            ids.append("vol-0" + raw[r][:16])
            names.append("")
        elif p.resource_type == "bucket":
            ids.append(f"bench-bucket-{raw[r][:8]}")
            names.append(f"bench-bucket-{raw[r][:8]}")
        elif p.resource_type == "function":
            ids.append(f"arn:aws:lambda:{REGIONS[p.region][0]}:{accounts[account[r]][0]}:function:fn-{raw[r][:8]}")
            names.append(f"fn-{raw[r][:8]}")
        else:
            ids.append("")
            names.append("")
    return Estate(payer=payer, accounts=accounts, products=products, tags=list(tag_index), tag_dicts=tag_dicts,
                  product=product, account=account.astype(np.int32), tag=tag,
                  az=rng.integers(0, 3, size=n_resources).astype(np.int32),
                  fractional=rng.random(n_resources) < 0.10,
                  size_gb=np.round(rng.lognormal(5.5, 1.2, size=n_resources), 1), resource_id=ids,
                  resource_name=names)


def _chunk_rows(n_rows: int, n_res: int, lo: int, hi: int, seed: int, chunk_no: int, est: Estate
                ) -> dict[str, np.ndarray]:
    """Row-level arrays of rows [lo, hi): hour, resource, product and the numbers."""
    i = np.arange(lo, hi, dtype=np.int64)
    hour = (i * HOURS) // n_rows
    res = (i % n_res).astype(np.int64)
    prod = est.product[res]
    rng = np.random.default_rng([seed, 7, chunk_no])
    kinds = np.array([p.kind for p in est.products])[prod]
    price = np.array([p.price for p in est.products])[prod]
    qty = np.full(len(i), np.nan)
    inst = (kinds == "gpu") | (kinds == "cpu")
    qty[inst] = np.where(est.fractional[res[inst]], np.round(rng.uniform(0.05, 1.0, inst.sum()), 4), 1.0)
    st = kinds == "storage"
    qty[st] = np.round(est.size_gb[res[st]] / 730.0, 6)
    nw = kinds == "network"
    qty[nw] = np.round(rng.exponential(2.0, nw.sum()), 6)
    ot = kinds == "other"
    qty[ot] = rng.poisson(800, ot.sum()).astype(float)
    cost = np.where(np.isnan(qty), price * rng.uniform(0.5, 1.5, len(i)), qty * price)
    cost = np.round(cost, 8)
    # a third of the usage is covered by a Savings Plan: the amortised (effective) cost is 20-45 % lower
    covered = inst & (rng.random(len(i)) < 0.33)
    effective = np.round(np.where(covered, cost * rng.uniform(0.55, 0.80, len(i)), cost), 8)
    return {"i": i, "hour": hour, "res": res, "prod": prod, "qty": qty, "cost": cost, "effective": effective,
            "kinds": kinds}


def _month_bounds_ms(hour: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """UTC billing month [start, end) in ms of each hour of the quarter."""
    starts = [dt.datetime(2026, m, 1, tzinfo=UTC) for m in (6, 7, 8, 9, 10)]
    edges = np.array([int(s.timestamp()) for s in starts], dtype=np.int64)
    t = P_START_S + hour * 3600
    k = np.searchsorted(edges, t, side="right") - 1
    return edges[k] * 1000, edges[k + 1] * 1000


def focus_table(c: dict, est: Estate) -> pa.Table:
    P = est.products
    prod, res, hour = c["prod"], c["res"], c["hour"]
    n = len(prod)
    region = np.array([p.region for p in P])[prod]
    acct = est.account[res]
    bps, bpe = _month_bounds_ms(hour)
    start_ms = (P_START_S + hour * 3600) * 1000
    region_codes = region.astype(np.int32)
    az_codes = np.where(region >= 0, region * 3 + est.az[res], -1)
    az_table = [f"{r[0]}{z}" for r in REGIONS for z in "abc"]
    usage = np.array([p.charge_category == "Usage" for p in P])[prod]
    cols = {
        "BillingAccountId": _dict_column(np.zeros(n, np.int32), [est.payer[0]]),
        "BillingAccountName": _dict_column(np.zeros(n, np.int32), [est.payer[1]]),
        "SubAccountId": _dict_column(acct, [a[0] for a in est.accounts]),
        "SubAccountName": _dict_column(acct, [a[1] for a in est.accounts]),
        "ProviderName": _dict_column(np.zeros(n, np.int32), ["AWS"]),
        "PublisherName": _dict_column(np.zeros(n, np.int32), ["Amazon Web Services, Inc."]),
        "InvoiceIssuerName": _dict_column(np.zeros(n, np.int32), ["Amazon Web Services, Inc."]),
        "BillingCurrency": _dict_column(np.zeros(n, np.int32), ["USD"]),
        "BillingPeriodStart": pa.array(bps, type=pa.timestamp("ms", tz="UTC")),
        "BillingPeriodEnd": pa.array(bpe, type=pa.timestamp("ms", tz="UTC")),
        "ChargePeriodStart": pa.array(start_ms, type=pa.timestamp("ms", tz="UTC")),
        "ChargePeriodEnd": pa.array(start_ms + 3_600_000, type=pa.timestamp("ms", tz="UTC")),
        "ChargeCategory": _dict_column(prod, [p.charge_category for p in P]),
        "ChargeClass": pa.nulls(n, pa.string()),
        "ChargeDescription": _dict_column(prod, [p.description for p in P]),
        "ChargeFrequency": _dict_column(prod, [p.frequency for p in P]),
        "ServiceName": _dict_column(prod, [p.service for p in P]),
        "ServiceCategory": _dict_column(prod, [p.category for p in P]),
        "RegionId": _dict_column(np.where(region >= 0, region_codes, -1), [r[0] for r in REGIONS]),
        "RegionName": _dict_column(np.where(region >= 0, region_codes, -1), [r[1] for r in REGIONS]),
        "AvailabilityZone": _dict_column(az_codes, az_table),
        "ResourceId": _dict_column(res.astype(np.int32), est.resource_id),
        "ResourceName": _dict_column(res.astype(np.int32), est.resource_name),
        "ResourceType": _dict_column(prod, [p.resource_type for p in P]),
        "SkuId": _dict_column(prod, [p.sku_id for p in P]),
        "SkuPriceId": _dict_column(prod, [p.sku_price_id for p in P]),
        "SkuMeter": _dict_column(prod, [p.sku_meter for p in P]),
        "ConsumedQuantity": pa.array(c["qty"], mask=~usage | np.isnan(c["qty"])),
        "ConsumedUnit": _dict_column(np.where(usage, prod, -1), [p.unit for p in P]),
        "PricingQuantity": pa.array(c["qty"], mask=~usage | np.isnan(c["qty"])),
        "PricingUnit": _dict_column(np.where(usage, prod, -1), [p.unit for p in P]),
        "ListCost": pa.array(np.where(c["cost"] > 0, c["cost"], 0.0)),
        "BilledCost": pa.array(c["cost"]),
        "EffectiveCost": pa.array(c["effective"]),
        "ContractedCost": pa.array(c["effective"]),
        "Tags": _dict_column(est.tag[res], est.tags),
        "x_ServiceCode": _dict_column(prod, [p.service_code for p in P]),
        "x_UsageType": _dict_column(prod, [p.usage_type for p in P]),
        "x_Operation": _dict_column(prod, [p.operation for p in P]),
    }
    return pa.Table.from_pydict(cols, schema=FOCUS_SCHEMA)


CUR_LINE_TYPE = {"Usage": "Usage", "Credit": "Credit", "Tax": "Tax", "Purchase": "SavingsPlanRecurringFee"}
_MAP = pa.map_(pa.string(), pa.string())


def _map_column(codes: np.ndarray, table: list[dict]) -> pa.Array:
    """map<string,string> column from per-row codes into a table of dicts (vectorised)."""
    lens = np.array([len(d) for d in table], dtype=np.int64)
    keys = [k for d in table for k in d]
    items = [str(v) for d in table for v in d.values()]
    starts = np.concatenate([[0], np.cumsum(lens)[:-1]])
    row_len = lens[codes]
    offsets = np.concatenate([[0], np.cumsum(row_len)]).astype(np.int32)
    owner = np.repeat(np.arange(len(codes)), row_len)
    pos = starts[codes][owner] + (np.arange(int(row_len.sum())) - np.repeat(offsets[:-1], row_len))
    return pa.MapArray.from_arrays(pa.array(offsets), pa.array(keys, pa.string()).take(pa.array(pos)),
                                   pa.array(items, pa.string()).take(pa.array(pos)))


def cur_table(c: dict, est: Estate, interval_table: list[str]) -> pa.Table:
    P = est.products
    prod, res, hour = c["prod"], c["res"], c["hour"]
    n = len(prod)
    region = np.array([p.region for p in P])[prod]
    acct = est.account[res]
    bps, bpe = _month_bounds_ms(hour)
    start_ms = (P_START_S + hour * 3600) * 1000
    usage = np.array([p.charge_category == "Usage" for p in P])[prod]
    az_codes = np.where(region >= 0, region * 3 + est.az[res], -1)
    prod_maps = [{"product_name": p.service, **({"region": REGIONS[p.region][0]} if p.region >= 0 else {}),
                  "servicecode": p.service_code, "usagetype": p.usage_type,
                  **({"instance_type": p.instance_type} if p.instance_type else {})} for p in P]
    user_tags = [{f"user_{k}": v for k, v in d.items()} for d in est.tag_dicts]
    cols = {
        "bill_bill_type": _dict_column(np.zeros(n, np.int32), ["Anniversary"]),
        "bill_billing_entity": _dict_column(np.zeros(n, np.int32), ["AWS"]),
        "bill_billing_period_start_date": pa.array(bps, type=pa.timestamp("ms", tz="UTC")),
        "bill_billing_period_end_date": pa.array(bpe, type=pa.timestamp("ms", tz="UTC")),
        "bill_payer_account_id": _dict_column(np.zeros(n, np.int32), [est.payer[0]]),
        "bill_payer_account_name": _dict_column(np.zeros(n, np.int32), [est.payer[1]]),
        "identity_line_item_id": _dict_column(res.astype(np.int32), [f"{rid or 'li'}-{k:07d}" for k, rid in
                                                                     enumerate(est.resource_id)]),
        "identity_time_interval": _dict_column(hour.astype(np.int32), interval_table),
        "line_item_availability_zone": _dict_column(az_codes, [f"{r[0]}{z}" for r in REGIONS for z in "abc"]),
        "line_item_currency_code": _dict_column(np.zeros(n, np.int32), ["USD"]),
        "line_item_line_item_description": _dict_column(prod, [p.description for p in P]),
        "line_item_line_item_type": _dict_column(prod, [CUR_LINE_TYPE[p.charge_category] for p in P]),
        "line_item_operation": _dict_column(prod, [p.operation for p in P]),
        "line_item_product_code": _dict_column(prod, [p.service_code for p in P]),
        "line_item_resource_id": _dict_column(res.astype(np.int32), est.resource_id),
        "line_item_unblended_cost": pa.array(c["cost"]),
        "line_item_unblended_rate": pa.array(np.array([p.price for p in P])[prod]),
        "line_item_net_unblended_cost": pa.array(c["cost"]),
        "line_item_usage_account_id": _dict_column(acct, [a[0] for a in est.accounts]),
        "line_item_usage_account_name": _dict_column(acct, [a[1] for a in est.accounts]),
        "line_item_usage_amount": pa.array(np.where(usage, np.nan_to_num(c["qty"]), 1.0)),
        "line_item_usage_start_date": pa.array(start_ms, type=pa.timestamp("ms", tz="UTC")),
        "line_item_usage_end_date": pa.array(start_ms + 3_600_000, type=pa.timestamp("ms", tz="UTC")),
        "line_item_usage_type": _dict_column(prod, [p.usage_type for p in P]),
        "pricing_public_on_demand_cost": pa.array(np.maximum(c["cost"], 0.0)),
        "pricing_term": _dict_column(prod, ["OnDemand" if p.charge_category == "Usage" else "" for p in P]),
        "pricing_unit": _dict_column(np.where(usage, prod, -1), [
            {"Hours": "Hrs"}.get(p.unit or "", p.unit or "") for p in P]),
        "product": _map_column(prod, prod_maps),
        "product_instance_type": _dict_column(prod, [p.instance_type or "" for p in P]),
        "product_product_family": _dict_column(prod, [
            {"gpu": "Compute Instance", "cpu": "Compute Instance", "storage": "Storage",
             "network": "Data Transfer"}.get(p.kind, "") for p in P]),
        "product_region_code": _dict_column(np.where(region >= 0, region, -1), [r[0] for r in REGIONS]),
        "product_servicecode": _dict_column(prod, [p.service_code for p in P]),
        "product_sku": _dict_column(prod, [p.sku_id for p in P]),
        "resource_tags": _map_column(est.tag[res], user_tags),
    }
    return pa.table(cols)


def write_billing(path: Path, n_rows: int, seed: int, stream: int, payer: tuple[str, str], chunk_rows: int,
                  fmt: str, resources: int | None = None) -> dict:
    rng = np.random.default_rng([seed, stream])
    n_res = resources or max(1, math.ceil(n_rows / HOURS))
    products = build_products(rng)
    est = build_estate(rng, n_res, payer, products)
    n_res = len(est.product)            # small exports: at least one resource of each kind
    interval_table = [f"{(P_START + dt.timedelta(hours=h)):%Y-%m-%dT%H:%M:%SZ}/"
                      f"{(P_START + dt.timedelta(hours=h + 1)):%Y-%m-%dT%H:%M:%SZ}" for h in range(HOURS)]
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = None
    kinds: dict[str, int] = {}
    total_cost = 0.0
    try:
        for chunk_no, lo in enumerate(range(0, n_rows, chunk_rows)):
            hi = min(n_rows, lo + chunk_rows)
            c = _chunk_rows(n_rows, n_res, lo, hi, seed + stream, chunk_no, est)
            table = focus_table(c, est) if fmt == "focus" else cur_table(c, est, interval_table)
            if writer is None:
                writer = pq.ParquetWriter(path, table.schema, compression="snappy")
            writer.write_table(table, row_group_size=chunk_rows)
            for k, v in zip(*np.unique(c["kinds"], return_counts=True)):
                kinds[str(k)] = kinds.get(str(k), 0) + int(v)
            total_cost += float(c["cost"].sum())
    finally:
        if writer is not None:
            writer.close()
    return {"path": str(path), "rows": n_rows, "resources_per_hour": n_res, "accounts": len(est.accounts),
            "tag_combinations": len(est.tags), "rows_by_kind": kinds, "cost_usd": round(total_cost, 2),
            "row_groups": pq.ParquetFile(path).num_row_groups, "bytes": path.stat().st_size}


# ================================================================================================================
# GPU cluster: Slurm jobs -> busy minutes -> DCGM power, meters
# ================================================================================================================

LANES = [  # nodes, job mix (kind -> weight)
    ([1, 2], {"inference": 1.0}), ([3], {"inference": 1.0}), ([4], {"evaluation": 1.0}),
    ([5, 6, 7, 8], {"training": 0.55, "fine_tuning": 0.15, "evaluation": 0.30}),
    ([9, 10, 11, 12], {"training": 0.45, "fine_tuning": 0.25, "evaluation": 0.30}),
    ([13, 14, 15, 16], {"training": 0.15, "fine_tuning": 0.45, "evaluation": 0.40}),
]
HOURS_RANGE = {"training": (20.0, 72.0), "fine_tuning": (4.0, 22.0), "inference": (72.0, 190.0),
               "evaluation": (1.0, 9.0)}
DRAW_W = {"training": (600, 680), "fine_tuning": (580, 660), "inference": (420, 560), "evaluation": (450, 620)}
JOB_NAMES = {"training": ["pretrain-bm-1b", "pretrain-bm-7b", "pretrain-bm-moe"],
             "fine_tuning": ["ft-legal-assistant-v", "ft-search-ranker-v", "ft-support-bot-v"],
             "inference": ["serve-legal-assistant", "serve-search-ranker"],
             "evaluation": ["eval-bm-7b-mmlu", "eval-legal-7b-legalbench", "eval-ranker-beir"]}
ACCOUNTS = {"pretrain": "foundation", "ft-legal": "legal-assistant", "ft-search": "search-ranker",
            "ft-support": "support-bot", "serve-legal": "legal-assistant", "serve-search": "search-ranker",
            "eval-bm": "foundation", "eval-legal": "legal-assistant", "eval-ranker": "search-ranker"}


@dataclass
class Job:
    job_id: int
    name: str
    account: str
    partition: str
    nodes: list[int]
    start: int          # unix seconds
    end: int
    kind: str
    draw_w: float
    state: str = "COMPLETED"


def make_jobs(rng: np.random.Generator) -> list[Job]:
    jobs: list[Job] = []
    t_first = int((P_START - dt.timedelta(days=3)).timestamp())
    t_last = int(SACCT_NOW.timestamp()) - 3600
    for nodes, mix in LANES:
        kinds, w = list(mix), np.array(list(mix.values()))
        t = t_first + int(rng.integers(0, 6 * 3600))
        counter = 0
        while True:
            kind = kinds[int(rng.choice(len(kinds), p=w / w.sum()))]
            dur = int(rng.uniform(*HOURS_RANGE[kind]) * 3600)
            if t + dur > t_last:
                break
            use = nodes if kind != "evaluation" else [nodes[int(rng.integers(0, len(nodes)))]]
            base = JOB_NAMES[kind][int(rng.integers(0, len(JOB_NAMES[kind])))]
            counter += 1
            name = f"{base}{counter}" if base.endswith("-v") else (f"{base}-r{counter:03d}" if kind == "training" else base)
            account = next(v for k, v in ACCOUNTS.items() if base.startswith(k))
            partition = {"training": "train", "fine_tuning": "train", "inference": "serve", "evaluation": "eval"}[kind]
            job = Job(0, name, account, partition, use, t, t + dur, kind, float(rng.uniform(*DRAW_W[kind])))
            if rng.random() < 0.03:
                job.state = "FAILED"
                job.end = job.start + int(rng.integers(60, 1800))
            jobs.append(job)
            t = job.end + int(rng.uniform(0.05, 6.0 if kind != "inference" else 0.5) * 3600)
    jobs.sort(key=lambda j: (j.start, j.nodes[0]))
    for k, j in enumerate(jobs):
        j.job_id = 700000 + 3 * k + int(rng.integers(0, 3))
    return jobs


def busy_grid(jobs: list[Job]) -> np.ndarray:
    """Per node and minute of the period: the per-GPU draw (W) of the job running there, 0 when idle."""
    grid = np.zeros((N_NODES + 1, MINUTES), dtype=np.float32)
    for j in jobs:
        a = max(0, (j.start - P_START_S) // 60)
        b = min(MINUTES, (j.end - P_START_S) // 60)
        if b > a:
            for n in j.nodes:
                grid[n, a:b] = j.draw_w
    return grid


def _fmt_local(ts: int) -> str:
    return dt.datetime.fromtimestamp(ts, tz=LONDON).strftime("%Y-%m-%dT%H:%M:%S")


def _fmt_elapsed(seconds: int) -> str:
    d, rem = divmod(seconds, 86400)
    h, rem = divmod(rem, 3600)
    m, s = divmod(rem, 60)
    return (f"{d}-" if d else "") + f"{h:02d}:{m:02d}:{s:02d}"


def _nodelist(nodes: list[int]) -> str:
    if len(nodes) == 1:
        return f"gpu{nodes[0]:03d}"
    return f"gpu[{nodes[0]:03d}-{nodes[-1]:03d}]"


def write_sacct(jobs: list[Job], path: Path) -> int:
    header = ["JobID", "JobIDRaw", "JobName", "Account", "Partition", "State", "Start", "End", "Elapsed",
              "ElapsedRaw", "AllocTRES", "NodeList", "ConsumedEnergyRaw"]
    lines = ["|".join(header)]
    for j in jobs:
        n, g = len(j.nodes), GPUS_PER_NODE
        elapsed = j.end - j.start
        tres = f"billing={96 * n},cpu={96 * n},gres/gpu:h100={g * n},gres/gpu={g * n},mem={1000 * n}G,node={n}"
        common = [_fmt_local(j.start), _fmt_local(j.end), _fmt_elapsed(elapsed), str(elapsed)]
        nl = _nodelist(j.nodes)
        lines.append("|".join([str(j.job_id), str(j.job_id), j.name, j.account, j.partition, j.state, *common,
                               tres, nl, ""]))
        lines.append("|".join([f"{j.job_id}.batch", f"{j.job_id}.batch", "batch", j.account, "", j.state,
                               *common, f"cpu=96,gres/gpu:h100={g},gres/gpu={g},mem=1000G,node=1",
                               f"gpu{j.nodes[0]:03d}", ""]))
        lines.append("|".join([f"{j.job_id}.extern", f"{j.job_id}.extern", "extern", j.account, "", "COMPLETED",
                               *common, tres, nl, ""]))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return len(lines) - 1


def write_meters(grid: np.ndarray, path: Path, rng: np.random.Generator, interval_min: int = 15) -> tuple[int, float]:
    """Interval IT-load energy per meter (kWh): node idle + busy GPUs with their node share + switches."""
    n_int = MINUTES // interval_min
    rows = ["meter_id,timestamp,energy,unit"]
    total = 0.0
    per_meter = {}
    for meter, nodes in METERS.items():
        kw = np.full(MINUTES, SWITCH_KW, dtype=np.float64)
        for n in nodes:
            draw = grid[n].astype(np.float64)
            kw += NODE_IDLE_KW + np.where(draw > 0, GPUS_PER_NODE * draw * NODE_KW_PER_GPU_W,
                                          GPUS_PER_NODE * GPU_IDLE_W / 1000.0)
        kwh = kw[: n_int * interval_min].reshape(n_int, interval_min).mean(axis=1) * interval_min / 60.0
        kwh = np.round(kwh * rng.uniform(0.99, 1.01, n_int), 3)
        per_meter[meter] = kwh
        total += float(kwh.sum())
    for k in range(n_int):
        ts = dt.datetime.fromtimestamp(P_START_S + k * interval_min * 60, tz=LONDON).isoformat()
        for meter in METERS:
            rows.append(f"{meter},{ts},{per_meter[meter][k]:.3f},kWh")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return len(rows) - 1, total


def _step_for(samples: int) -> int:
    """Sampling step: the divisor of 86,400 s closest to what gives the requested sample count."""
    ideal = N_GPUS * SPAN_S / max(samples, 1)
    divisors = [d for d in range(1, 86401) if 86400 % d == 0]
    return min(divisors, key=lambda d: abs(math.log(d / ideal)))


def write_dcgm(grid: np.ndarray, folder: Path, step: int, seed: int) -> dict:
    """One Prometheus range-query JSON per day (24 h from the period start, both ends included, so consecutive
    files share their edge sample and no interval is lost; the last file stops before the period end):
    DCGM_FI_DEV_POWER_USAGE of every GPU."""
    folder.mkdir(parents=True, exist_ok=True)
    per_day = 86400 // step + 1
    offsets = np.arange(per_day, dtype=np.int64) * step
    samples = 0
    size = 0
    for d in range(DAYS):
        rng = np.random.default_rng([seed, 11, d])
        t0 = P_START_S + d * 86400
        ts = t0 + (offsets if d < DAYS - 1 else offsets[:-1])     # the period end itself is outside it
        n_pts = len(ts)
        minute = np.minimum((ts - P_START_S) // 60, MINUTES - 1)
        ts_text = pc.cast(pa.array(ts), pa.string())
        day = dt.datetime.fromtimestamp(t0, tz=UTC) + dt.timedelta(hours=1)
        path = folder / f"dcgm_{day:%Y-%m-%d}.json"
        with open(path, "w", encoding="utf-8") as fh:
            fh.write('{"status":"success","data":{"resultType":"matrix","result":[')
            for g in range(N_GPUS):
                node, gi = g // GPUS_PER_NODE + 1, g % GPUS_PER_NODE
                draw = grid[node, minute].astype(np.float64)
                idle = GPU_IDLE_W + 4.0 * np.sin(gi)
                watts = np.where(draw > 0, draw + rng.normal(0.0, 18.0, n_pts), idle + rng.normal(0.0, 2.5, n_pts))
                values = pc.cast(pa.array(np.round(np.maximum(watts, 20.0), 2)), pa.string())
                points = pc.binary_join_element_wise("[", ts_text, ',"', values, '"]', "")
                body = pc.binary_join(pa.ListArray.from_arrays(pa.array([0, n_pts], pa.int32()), points), ",")[0]
                metric = {"__name__": "DCGM_FI_DEV_POWER_USAGE", "gpu": str(gi),
                          "UUID": f"GPU-{node:04d}{gi:04d}-5a1e-4b3c-9d2f-{node:06d}{gi:06d}",
                          "device": f"nvidia{gi}", "modelName": "NVIDIA H100 80GB HBM3", "Hostname": f"gpu{node:03d}",
                          "DCGM_FI_DRIVER_VERSION": "550.54.15", "instance": f"gpu{node:03d}:9400",
                          "job": "dcgm-exporter"}
                fh.write(("," if g else "") + '{"metric":' + json.dumps(metric, separators=(",", ":"))
                         + ',"values":[' + body.as_py() + "]}")
                samples += n_pts
            fh.write("]}}\n")
        size += path.stat().st_size
    return {"glob": str(folder / "dcgm_*.json"), "files": DAYS, "samples": samples, "step_s": step,
            "gpus": N_GPUS, "bytes": size}


# ================================================================================================================
# Config
# ================================================================================================================

def config_yaml(*, cur: bool, max_gap_s: int, go_mwh: float, embodied: bool = True) -> str:
    cur_contract = f"""
  - id: aws-subsidiary
    kind: cloud
    provider: aws
    billing_accounts: ["{CUR_PAYER[0]}"]
    electricity_purchaser: provider
    lease: none
""" if cur else ""
    cur_source = """
  - id: aws-cur2
    kind: aws_cur
    path: data/billing/cur2_2026Q3.parquet
    contracts: [aws-subsidiary]
""" if cur else ""
    return f"""# Generated by benchmarks/generate.py: synthetic benchmark inputs (fictional company, accounts and figures).
entity:
  name: Benchmark Holdings Ltd (synthetic)
  consolidation_approach: operational_control
  currency: EUR
  timezone: Europe/London
period: 2026-Q3
contracts:
  - id: aws-main
    kind: cloud
    provider: aws
    billing_accounts: ["{PAYER[0]}"]
    electricity_purchaser: provider
    lease: none
    embodied_emissions: {"true" if embodied else "false"}
{cur_contract}
  - id: lon-colo
    kind: colocation
    provider: Thames Colo (synthetic)
    site: lon-colo-1
    electricity_purchaser: company
    lease: operating
    certificates:
      - id: GO-BENCH-2026-0001
        type: GO
        mwh: {go_mwh}
        market: GB
        vintage_year: 2026
        bundled: false
        retired: true
sites:
  - id: lon-colo-1
    name: Thames Colo London, hall 2 (synthetic)
    grid_zone: GB
    timezone: Europe/London
    pue: {PUE}
    pue_source: "Synthetic benchmark value"
    gpu_model: H100-SXM
    gres_gpu_types:
      h100: H100-SXM
    meters:
      - id: LON1-PDU-A
        measures: it_load
      - id: LON1-PDU-B
        measures: it_load
sources:
  - id: aws-focus
    kind: focus
    path: data/billing/focus_2026Q3.parquet
    contracts: [aws-main]
{cur_source}
  - id: lon-colo-1-sacct
    kind: slurm_sacct
    path: data/slurm/lon-colo-1_sacct_2026Q3.txt
    site: lon-colo-1
  - id: dcgm
    kind: dcgm
    path: data/telemetry/dcgm_*.json
    site: lon-colo-1
    max_gap_s: {max_gap_s}
  - id: lon-colo-1-meters
    kind: meter_readings
    path: data/meters/lon-colo-1_2026Q3.csv
    site: lon-colo-1
    interval_minutes: 15
phase_rules:
  - {{id: slurm-ft, phase: fine_tuning, match: {{job_name: "ft-*"}}}}
  - {{id: slurm-pretrain, phase: training, match: {{job_name: "pretrain-*"}}}}
  - {{id: slurm-serve, phase: inference, match: {{job_name: "serve-*"}}}}
  - {{id: slurm-eval, phase: evaluation, match: {{job_name: "eval-*"}}}}
  - {{id: tag-training, phase: training, match: {{tags: {{workload: training}}}}}}
  - {{id: tag-fine-tuning, phase: fine_tuning, match: {{tags: {{workload: fine-tuning}}}}}}
  - {{id: tag-inference, phase: inference, match: {{tags: {{workload: inference}}}}}}
  - {{id: tag-evaluation, phase: evaluation, match: {{tags: {{workload: evaluation}}}}}}
project_rule:
  tag: project
  slurm: account
"""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--billing-rows", type=int, required=True, help="rows of the FOCUS Parquet")
    ap.add_argument("--power-samples", type=int, required=True, help="DCGM power samples (approximate: the step "
                                                                     "is a divisor of a day)")
    ap.add_argument("--out", type=Path, required=True, help="output folder (created)")
    ap.add_argument("--seed", type=int, default=20260930)
    ap.add_argument("--cur-rows", type=int, default=0, help="rows of a CUR 2.0 Parquet of a second payer (0: none)")
    ap.add_argument("--chunk-rows", type=int, default=250_000, help="billing rows per chunk / row group")
    ap.add_argument("--resources", type=int, default=None,
                    help="FOCUS resources (default rows / 2208 hours: one row per resource-hour); more resources "
                         "than that give a larger export's variety (ledger size) with fewer rows")
    ap.add_argument("--no-embodied", action="store_true",
                    help="embodied_emissions: false on the cloud contract (the demo and the default have it on)")
    args = ap.parse_args(argv)
    if args.billing_rows < 1 or args.power_samples < N_GPUS * 2 * DAYS:
        ap.error(f"--billing-rows >= 1 and --power-samples >= {N_GPUS * 2 * DAYS} (two samples per GPU-day)")
    t0 = time.perf_counter()
    out = args.out
    if out.is_dir() and any(out.iterdir()) and not (out / "benchmark_inputs.json").is_file():
        ap.error(f"{out} is not empty and holds no earlier benchmark inputs: choose a new folder")
    data = out / "data"
    info: dict = {"seed": args.seed, "period": "2026-Q3", "entity_timezone": "Europe/London",
                  "billing_rows": args.billing_rows, "cur_rows": args.cur_rows,
                  "power_samples_requested": args.power_samples, "resources": args.resources,
                  "embodied_emissions": not args.no_embodied}

    info["focus"] = write_billing(data / "billing" / "focus_2026Q3.parquet", args.billing_rows, args.seed, 1,
                                  PAYER, args.chunk_rows, "focus", args.resources)
    print(f"FOCUS: {args.billing_rows:,} rows, {info['focus']['bytes'] / 1e6:,.1f} MB "
          f"({time.perf_counter() - t0:.1f} s)", flush=True)
    if args.cur_rows:
        info["cur2"] = write_billing(data / "billing" / "cur2_2026Q3.parquet", args.cur_rows, args.seed, 2,
                                     CUR_PAYER, args.chunk_rows, "cur2")
        print(f"CUR 2.0: {args.cur_rows:,} rows, {info['cur2']['bytes'] / 1e6:,.1f} MB "
              f"({time.perf_counter() - t0:.1f} s)", flush=True)

    rng = np.random.default_rng([args.seed, 3])
    jobs = make_jobs(rng)
    grid = busy_grid(jobs)
    info["sacct_rows"] = write_sacct(jobs, data / "slurm" / "lon-colo-1_sacct_2026Q3.txt")
    info["jobs"] = len(jobs)
    info["meter_rows"], it_kwh = write_meters(grid, data / "meters" / "lon-colo-1_2026Q3.csv", rng)
    step = _step_for(args.power_samples)
    info["dcgm"] = write_dcgm(grid, data / "telemetry", step, args.seed)
    info["power_samples"] = info["dcgm"]["samples"]
    max_gap = max(120, 3 * step)
    go_mwh = round(it_kwh * PUE * 0.4 / 1000.0, 1)
    (out / "disclosure.yaml").write_text(config_yaml(cur=bool(args.cur_rows), max_gap_s=max_gap, go_mwh=go_mwh,
                                                     embodied=not args.no_embodied),
                                         encoding="utf-8")
    info["generate_seconds"] = round(time.perf_counter() - t0, 1)
    (out / "benchmark_inputs.json").write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    print(f"DCGM: {info['power_samples']:,} samples (step {step} s, {DAYS} files, "
          f"{info['dcgm']['bytes'] / 1e6:,.1f} MB); sacct: {info['jobs']} jobs; meters: {info['meter_rows']} rows")
    print(f"wrote {out / 'disclosure.yaml'} in {info['generate_seconds']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
