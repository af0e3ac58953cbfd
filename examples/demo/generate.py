#!/usr/bin/env python3
"""Generate the bundled demo quarter (2026-Q3) for the fictional "Northwind Intelligence Ltd".

Run from the repository root:

    python examples/demo/generate.py

It writes, byte for byte identically on every run (fixed seed, stdlib only):

    examples/demo/data/billing/aws_focus_2026Q3.csv        FOCUS 1.2 cloud billing export (AWS)
    examples/demo/data/slurm/lon-colo-1_sacct_2026Q3.txt   `sacct --parsable2` output of the London GPU cluster
    examples/demo/data/meters/lon-colo-1_2026Q3.csv        hourly IT-load meter readings of that cluster

and prints a summary (GPU-hours per phase per month, meter kWh per month, certificate volume) that
examples/demo/README.md quotes. All companies, accounts, ids and certificates are fictional.

The data contain deliberate defects (see README.md) so the demo shows quarantine and edge cases.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import math
import random
from pathlib import Path
from zoneinfo import ZoneInfo

SEED = 20260930
HERE = Path(__file__).resolve().parent
DATA = HERE / "data"

LONDON = ZoneInfo("Europe/London")
UTC = dt.timezone.utc

# Reporting period, London time: [2026-07-01 00:00, 2026-10-01 00:00)
P_START = dt.datetime(2026, 7, 1, tzinfo=LONDON).astimezone(UTC)
P_END = dt.datetime(2026, 10, 1, tzinfo=LONDON).astimezone(UTC)
# The moment `sacct` was run (after the quarter; one job is still RUNNING then)
SACCT_NOW = dt.datetime(2026, 10, 2, 8, 0, 0, tzinfo=LONDON).astimezone(UTC)

PUE = 1.35
GO_SHARE = 0.40

# ---------------------------------------------------------------------------------------------
# Colocation GPU cluster lon-colo-1: 16 nodes gpu[001-016] x 8 H100-SXM
# ---------------------------------------------------------------------------------------------
N_NODES = 16
GPUS_PER_NODE = 8
CPUS_PER_GPU = 12            # 96 cores per node
MEM_PER_GPU_G = 125          # 1000G per node
SWITCH_KW_PER_METER = 0.40   # network switches / PDU losses on each IT-load meter


def local(y, mo, d, h=0, mi=0, s=0) -> dt.datetime:
    """A London wall-clock time as an aware UTC datetime."""
    return dt.datetime(y, mo, d, h, mi, s, tzinfo=LONDON).astimezone(UTC)


def fmt_local(t: dt.datetime) -> str:
    return t.astimezone(LONDON).strftime("%Y-%m-%dT%H:%M:%S")


def fmt_elapsed(seconds: int) -> str:
    d, rem = divmod(seconds, 86400)
    h, rem = divmod(rem, 3600)
    m, s = divmod(rem, 60)
    return (f"{d}-" if d else "") + f"{h:02d}:{m:02d}:{s:02d}"


def node_name(n: int) -> str:
    return f"gpu{n:03d}"


def compress_nodes(nodes: list[int]) -> str:
    nodes = sorted(nodes)
    if len(nodes) == 1:
        return node_name(nodes[0])
    parts, i = [], 0
    while i < len(nodes):
        j = i
        while j + 1 < len(nodes) and nodes[j + 1] == nodes[j] + 1:
            j += 1
        parts.append(f"{nodes[i]:03d}" if i == j else f"{nodes[i]:03d}-{nodes[j]:03d}")
        i = j + 1
    return "gpu[" + ",".join(parts) + "]"


class Job:
    def __init__(self, name, account, partition, nodes, gpus_per_node, start, end, kind):
        self.name = name
        self.account = account
        self.partition = partition
        self.nodes = sorted(nodes)
        self.gpn = gpus_per_node
        self.start = start
        self.end = end            # actual end (for RUNNING: None -> runs past SACCT_NOW)
        self.kind = kind          # training / fine_tuning / inference / evaluation
        self.state = "COMPLETED"
        self.draw_kw = 0.0        # per busy GPU (GPU + its share of CPU / memory / network)
        self.measured = False
        self.job_id = 0

    @property
    def gpus(self) -> int:
        return self.gpn * len(self.nodes)

    def busy_until(self) -> dt.datetime:
        return self.end if self.end is not None else SACCT_NOW


DRAW = {"training": (0.66, 0.70), "fine_tuning": (0.63, 0.69), "inference": (0.55, 0.61),
        "evaluation": (0.58, 0.66)}

FT_BIG_START = local(2026, 8, 10, 9, 12, 37)
FT_BIG_END = FT_BIG_START + dt.timedelta(days=9, hours=22, minutes=28, seconds=13)
FT_BIG_NODES = list(range(5, 17))  # gpu[005-016], 12 nodes = 96 GPUs

PRETRAIN_NAMES = ["pretrain-nw-1b3", "pretrain-nw-3b", "pretrain-nw-7b-base", "pretrain-nw-moe-8x1b"]
FT_SMALL = [("ft-search-ranker-v", "search-ranker"), ("ft-legal-clauses-v", "legal-assistant"),
            ("ft-legal-summ-v", "legal-assistant"), ("ft-ranker-distil-v", "search-ranker")]
EVAL_MODELS = ["nw-1b3", "nw-3b", "nw-7b-base", "legal-7b", "ranker-v4"]
EVAL_SUITES = ["mmlu", "legalbench", "beir", "helm-lite", "regression", "toxicity", "longctx"]
EVAL_ACCOUNTS = ["foundation", "foundation", "legal-assistant", "search-ranker"]


def make_eval(rng, node, start, hours_range=(1.0, 9.0)):
    model = rng.choice(EVAL_MODELS)
    name = f"eval-{model}-{rng.choice(EVAL_SUITES)}"
    acct = {"legal-7b": "legal-assistant", "ranker-v4": "search-ranker"}.get(model, rng.choice(EVAL_ACCOUNTS[:2]))
    dur = dt.timedelta(seconds=int(rng.uniform(*hours_range) * 3600))
    gpn = rng.choice([8, 8, 8, 4, 4, 2])
    return Job(name, acct, "eval", [node], gpn, start, start + dur, "evaluation")


def generate_jobs(rng: random.Random) -> list[Job]:
    jobs: list[Job] = []
    counters = {"pretrain": 0, "ft": {}}

    # --- serving lane S1: gpu[001-002], legal assistant, back-to-back deployments -------------------
    t = local(2026, 6, 28, 10, 14, 52)                      # crosses the period start
    while True:
        dur = dt.timedelta(seconds=int(rng.uniform(3.0, 8.0) * 86400))
        if t + dur > local(2026, 9, 30, 9, 0):
            break
        jobs.append(Job("serve-legal-assistant", "legal-assistant", "serve", [1, 2], 8, t, t + dur, "inference"))
        t = t + dur + dt.timedelta(seconds=rng.randint(120, 1500))
    # last deployment of the quarter: starts 30 Sept, ends 1 Oct (crosses the period end)
    s = local(2026, 9, 30, 10, 5, 11)
    jobs.append(Job("serve-legal-assistant", "legal-assistant", "serve", [1, 2], 8, s,
                    local(2026, 10, 1, 16, 40, 2), "inference"))

    # --- serving lane S2: gpu003, search ranker -------------------------------------------------------
    t = local(2026, 6, 29, 15, 31, 7)                       # crosses the period start
    while True:
        dur = dt.timedelta(seconds=int(rng.uniform(3.0, 7.0) * 86400))
        if t + dur > local(2026, 9, 27, 10, 0):
            break
        jobs.append(Job("serve-search-ranker", "search-ranker", "serve", [3], 8, t, t + dur, "inference"))
        t = t + dur + dt.timedelta(seconds=rng.randint(120, 1500))
    running = Job("serve-search-ranker", "search-ranker", "serve", [3], 8,
                  local(2026, 9, 27, 11, 2, 44), None, "inference")
    running.state = "RUNNING"                                # still running when sacct was run
    jobs.append(running)

    # --- evaluation lane E: gpu004 --------------------------------------------------------------------
    t = local(2026, 7, 1, 8, 3, 19)
    while True:
        j = make_eval(rng, 4, t)
        if j.end > local(2026, 9, 30, 21, 0):
            break
        jobs.append(j)
        t = j.end + dt.timedelta(seconds=int(rng.uniform(3.0, 16.0) * 3600))
    last_eval = make_eval(rng, 4, local(2026, 9, 30, 22, 10, 40))
    last_eval.end = local(2026, 10, 1, 3, 31, 9)             # crosses the period end
    jobs.append(last_eval)

    # --- mixed lanes P1..P3 on gpu[005-008], gpu[009-012], gpu[013-016] ------------------------------
    blackout_start = FT_BIG_START - dt.timedelta(minutes=30)
    blackout_end = FT_BIG_END + dt.timedelta(minutes=20)
    lanes = [
        (list(range(5, 9)), local(2026, 6, 30, 8, 30, 5), {"pretrain": 0.55, "ft": 0.15, "eval": 0.30}),
        (list(range(9, 13)), local(2026, 7, 1, 6, 47, 31), {"pretrain": 0.45, "ft": 0.25, "eval": 0.30}),
        (list(range(13, 17)), local(2026, 7, 2, 13, 20, 0), {"pretrain": 0.15, "ft": 0.45, "eval": 0.40}),
    ]
    lane_cutoff = local(2026, 9, 30, 12, 0)
    for li, (lane_nodes, t, mix) in enumerate(lanes):
        first = True
        while True:
            r = rng.random()
            if first and li == 0:
                kind = "pretrain"                           # the third job crossing the period start
            elif r < mix["pretrain"]:
                kind = "pretrain"
            elif r < mix["pretrain"] + mix["ft"]:
                kind = "ft"
            else:
                kind = "eval"
            if kind == "pretrain":
                n = rng.choice([2, 4, 4]) if not first else 4
                nodes = lane_nodes[:n] if rng.random() < 0.6 else lane_nodes[-n:]
                base = rng.choice(PRETRAIN_NAMES)
                counters["pretrain"] += 1
                name = f"{base}-r{counters['pretrain']:02d}"
                dur = dt.timedelta(seconds=int(rng.uniform(1.0, 3.0) * 86400))
                j = Job(name, "foundation", "train", nodes, 8, t, t + dur, "training")
            elif kind == "ft":
                base, acct = rng.choice(FT_SMALL)
                counters["ft"][base] = counters["ft"].get(base, 0) + 1
                n = rng.choice([1, 2, 2])
                nodes = sorted(rng.sample(lane_nodes, n))
                dur = dt.timedelta(seconds=int(rng.uniform(4.0, 22.0) * 3600))
                j = Job(f"{base}{counters['ft'][base]}", acct, "train", nodes, 8, t, t + dur, "fine_tuning")
            else:
                j = make_eval(rng, rng.choice(lane_nodes), t)
            first = False
            if j.end > lane_cutoff:
                break
            if j.start < blackout_end and j.end > blackout_start:
                t = blackout_end + dt.timedelta(seconds=rng.randint(60, 5400))
                continue
            jobs.append(j)
            t = j.end + dt.timedelta(seconds=int(rng.uniform(0.2, 20.0) * 3600))

    # --- the large fine-tuning run of August: the spike in the monthly chart --------------------------
    jobs.append(Job("ft-legal-7b-v2", "legal-assistant", "train", FT_BIG_NODES, 8, FT_BIG_START, FT_BIG_END,
                    "fine_tuning"))

    # --- two long pretraining jobs cancelled by the user (uid 1000) after running a while -------------
    pre = [j for j in jobs if j.kind == "training" and j.start > P_START and j.end < local(2026, 9, 29)
           and j.end - j.start > dt.timedelta(hours=30)]
    for j, hours in ((pre[3], 7.4), (pre[len(pre) // 2 + 2], 19.1)):
        j.end = j.start + dt.timedelta(seconds=int(hours * 3600))
        j.state = "CANCELLED by 1000"

    # --- a few evaluation jobs that failed quickly ----------------------------------------------------
    evals = [j for j in jobs if j.kind == "evaluation" and j.start > P_START and j.end < P_END]
    for j in (evals[11], evals[70], evals[140]):
        j.end = j.start + dt.timedelta(seconds=rng.randint(90, 1500))
        j.state = "FAILED"

    for j in jobs:
        j.draw_kw = rng.uniform(*DRAW[j.kind])
        j.measured = rng.random() < 0.5
    big = next(j for j in jobs if j.name == "ft-legal-7b-v2")
    big.measured = True
    next(j for j in jobs if j.state == "RUNNING").measured = False

    jobs.sort(key=lambda j: (j.start, j.nodes[0]))
    return jobs


def check_no_overlap(jobs: list[Job]) -> None:
    per_node: dict[int, list[tuple[dt.datetime, dt.datetime, str]]] = {}
    for j in jobs:
        for n in j.nodes:
            per_node.setdefault(n, []).append((j.start, j.busy_until(), j.name))
    for n, iv in per_node.items():
        iv.sort()
        for a, b in zip(iv, iv[1:]):
            assert a[1] <= b[0], f"node {n}: {a[2]} overlaps {b[2]}"


# ---------------------------------------------------------------------------------------------
# Writers
# ---------------------------------------------------------------------------------------------

def write_sacct(jobs: list[Job], node_idle_kw: dict[int, float], rng: random.Random, path: Path) -> None:
    first_id = 48210
    for i, j in enumerate(jobs):
        j.job_id = first_id + i * 3 + rng.randint(0, 2)     # ids of other users' jobs are not in this export
    pending = Job("pretrain-nw-moe-8x1b-r98", "foundation", "train", [], 8, None, None, "training")
    pending.state = "PENDING"
    pending.job_id = jobs[-1].job_id + 17

    header = ["JobID", "JobIDRaw", "JobName", "Account", "Partition", "State", "Start", "End", "Elapsed",
              "ElapsedRaw", "AllocTRES", "NodeList", "ConsumedEnergyRaw"]
    lines = ["|".join(header)]
    for j in jobs:
        end = j.end if j.end is not None else None
        elapsed = int(((end or SACCT_NOW) - j.start).total_seconds())
        g = j.gpn
        cpu_node = g * CPUS_PER_GPU
        mem_node = g * MEM_PER_GPU_G
        n = len(j.nodes)
        tres_job = (f"billing={cpu_node * n},cpu={cpu_node * n},gres/gpu:h100={g * n},gres/gpu={g * n},"
                    f"mem={mem_node * n}G,node={n}")
        tres_batch = f"cpu={cpu_node},gres/gpu:h100={g},gres/gpu={g},mem={mem_node}G,node=1"
        energy = ""
        if j.measured and end is not None:
            kwh = sum(node_idle_kw[x] + g * j.draw_kw for x in j.nodes) * elapsed / 3600.0
            energy = str(int(round(kwh * 3.6e6 * rng.uniform(0.985, 1.015))))
        end_s = fmt_local(end) if end is not None else "Unknown"
        start_s = fmt_local(j.start)
        if j.state == "RUNNING":
            batch_state, extern_state = "RUNNING", "RUNNING"
        elif j.state.startswith("CANCELLED"):
            batch_state, extern_state = "CANCELLED", "COMPLETED"
        elif j.state == "FAILED":
            batch_state, extern_state = "FAILED", "COMPLETED"
        else:
            batch_state, extern_state = "COMPLETED", "COMPLETED"
        nl = compress_nodes(j.nodes)
        common = [start_s, end_s, fmt_elapsed(elapsed), str(elapsed)]
        lines.append("|".join([str(j.job_id), str(j.job_id), j.name, j.account, j.partition, j.state, *common,
                               tres_job, nl, energy]))
        lines.append("|".join([f"{j.job_id}.batch", f"{j.job_id}.batch", "batch", j.account, "", batch_state,
                               *common, tres_batch, node_name(j.nodes[0]), energy]))
        lines.append("|".join([f"{j.job_id}.extern", f"{j.job_id}.extern", "extern", j.account, "", extern_state,
                               *common, tres_job, nl, energy]))
    lines.append("|".join([str(pending.job_id), str(pending.job_id), pending.name, pending.account, "train",
                           "PENDING", "None", "Unknown", "00:00:00", "0", "", "None assigned", ""]))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8", newline="\n")


def meter_energy(jobs: list[Job], node_idle_kw: dict[int, float], rng: random.Random):
    """Hourly kWh per meter over the period (London hours; all BST so one UTC hour each)."""
    hours = int((P_END - P_START).total_seconds() // 3600)
    groups = {"LON1-PDU-A": range(1, 9), "LON1-PDU-B": range(9, 17)}
    busy = {m: [0.0] * hours for m in groups}
    for j in jobs:
        s, e = max(j.start, P_START), min(j.busy_until(), P_END)
        if e <= s:
            continue
        for m, rng_nodes in groups.items():
            gpus_here = j.gpn * sum(1 for n in j.nodes if n in rng_nodes)
            if not gpus_here:
                continue
            kw = gpus_here * j.draw_kw
            h0 = int((s - P_START).total_seconds() // 3600)
            h1 = int(((e - P_START).total_seconds() - 1e-9) // 3600)
            for h in range(h0, h1 + 1):
                hs = P_START + dt.timedelta(hours=h)
                he = hs + dt.timedelta(hours=1)
                overlap = (min(e, he) - max(s, hs)).total_seconds() / 3600.0
                busy[m][h] += kw * overlap
    out = {}
    for m, rng_nodes in groups.items():
        idle = sum(node_idle_kw[n] for n in rng_nodes) + SWITCH_KW_PER_METER
        out[m] = [idle + busy[m][h] + rng.gauss(0.0, 0.15) for h in range(hours)]
    return out


def write_meters(energy: dict[str, list[float]], path: Path) -> None:
    hours = len(next(iter(energy.values())))
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["meter_id", "timestamp", "energy", "unit"])
        for h in range(hours):
            ts = (P_START + dt.timedelta(hours=h)).astimezone(LONDON).isoformat()
            w.writerow(["LON1-PDU-A", ts, f"{energy['LON1-PDU-A'][h]:.3f}", "kWh"])
            w.writerow(["LON1-PDU-B", ts, f"{round(energy['LON1-PDU-B'][h] * 1000)}", "Wh"])


# ---------------------------------------------------------------------------------------------
# AWS FOCUS 1.2 export
# ---------------------------------------------------------------------------------------------

FOCUS_COLUMNS = [
    "BillingAccountId", "BillingAccountName", "SubAccountId", "SubAccountName", "ProviderName", "PublisherName",
    "InvoiceIssuerName", "BillingCurrency", "BillingPeriodStart", "BillingPeriodEnd", "ChargePeriodStart",
    "ChargePeriodEnd", "ChargeCategory", "ChargeClass", "ChargeDescription", "ChargeFrequency", "ServiceName",
    "ServiceCategory", "RegionId", "RegionName", "AvailabilityZone", "ResourceId", "ResourceName", "ResourceType",
    "SkuId", "SkuPriceId", "SkuMeter", "ConsumedQuantity", "ConsumedUnit", "PricingQuantity", "PricingUnit",
    "ListCost", "BilledCost", "EffectiveCost", "ContractedCost", "Tags", "x_ServiceCode", "x_UsageType",
    "x_Operation",
]
PAYER = ("210987654321", "Northwind Intelligence Ltd")
SUB_RESEARCH = ("345678901234", "northwind-research")
SUB_PROD = ("456789012345", "northwind-production")
REGIONS = {"us-east-1": ("US East (N. Virginia)", "USE1"), "eu-west-2": ("Europe (London)", "EUW2")}
# plausible on-demand Linux prices, USD per hour (fictional demo values)
PRICE = {"p5.48xlarge": 55.04, "p4d.24xlarge": 21.9576, "g5.12xlarge": 6.3760, "g5.xlarge": 1.1860,
         "m5.2xlarge": 0.4440}
S3_PRICE_GB_MO = 0.024


def zfmt(t: dt.datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def money(x: float) -> str:
    return f"{x:.6f}".rstrip("0").rstrip(".") if x != int(x) else f"{x:.1f}"


def billing_period(day: dt.datetime) -> tuple[str, str]:
    start = day.replace(day=1)
    nxt = dt.datetime(start.year + (start.month == 12), 1 if start.month == 12 else start.month + 1, 1, tzinfo=UTC)
    return zfmt(start), zfmt(nxt)


def rand_token(rng: random.Random, n: int, alphabet="ABCDEFGHJKLMNPQRSTUVWXYZ23456789") -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def focus_rows(rng: random.Random) -> list[dict]:
    days = [dt.datetime(2026, 7, 1, tzinfo=UTC) + dt.timedelta(days=i) for i in range(92)]
    sku = {}
    for itype in PRICE:
        for region in REGIONS:
            sku[(itype, region)] = (rand_token(rng, 16), f"{rand_token(rng, 16)}.{rand_token(rng, 10)}")

    def instance(itype, region, az, sub, name, tags):
        return {"itype": itype, "region": region, "az": az, "sub": sub, "name": name, "tags": tags,
                "id": "i-0" + "".join(rng.choice("0123456789abcdef") for _ in range(16))}

    tr = {"project": "foundation", "workload": "training"}
    ft = {"project": "legal-assistant", "workload": "fine-tuning"}
    inf = {"project": "legal-assistant", "workload": "inference"}
    ev = {"project": "search-ranker", "workload": "evaluation"}
    p5 = [instance("p5.48xlarge", "us-east-1", "us-east-1a", SUB_RESEARCH, f"nw-train-p5-{k}", tr) for k in "ab"]
    p4d = instance("p4d.24xlarge", "us-east-1", "us-east-1c", SUB_RESEARCH, "nw-ft-legal-p4d", ft)
    g5x12 = [instance("g5.12xlarge", "eu-west-2", f"eu-west-2{z}", SUB_PROD, f"nw-legal-serve-{k}", inf)
             for k, z in zip(range(1, 5), "abab")]
    g5x1 = [instance("g5.xlarge", "eu-west-2", "eu-west-2a", SUB_PROD, f"nw-ranker-eval-{k}", ev) for k in (1, 2)]
    m5 = instance("m5.2xlarge", "eu-west-2", "eu-west-2b", SUB_PROD, "", {})   # untagged: lands as unallocated

    # running intervals (UTC) per instance
    runs: dict[str, list[tuple[dt.datetime, dt.datetime]]] = {}
    bursts = [(dt.datetime(2026, 7, 6, 7, 0, tzinfo=UTC), dt.datetime(2026, 7, 9, 19, 0, tzinfo=UTC)),
              (dt.datetime(2026, 8, 24, 13, 0, tzinfo=UTC), dt.datetime(2026, 8, 28, 9, 0, tzinfo=UTC)),
              (dt.datetime(2026, 9, 14, 6, 0, tzinfo=UTC), dt.datetime(2026, 9, 18, 22, 0, tzinfo=UTC))]
    for k, inst in enumerate(p5):
        runs[inst["id"]] = [(a + dt.timedelta(hours=k), b - dt.timedelta(hours=2 * k)) for a, b in bursts]
    runs[p4d["id"]] = [(dt.datetime(2026, 8, 3, 14, 0, tzinfo=UTC), dt.datetime(2026, 8, 9, 16, 0, tzinfo=UTC))]
    for inst in g5x12 + [m5]:
        runs[inst["id"]] = [(days[0], days[-1] + dt.timedelta(days=1))]
    eval_days = {}
    for k, inst in enumerate(g5x1):
        chosen = sorted(rng.sample(range(92), 28))
        if k == 0 and 61 not in chosen:          # 2026-08-31: the day carrying the malformed timestamp
            chosen = sorted(chosen[:-1] + [61])
        eval_days[inst["id"]] = chosen
        iv = []
        for d in chosen:
            st = days[d] + dt.timedelta(hours=rng.randint(7, 11))
            iv.append((st, st + dt.timedelta(hours=rng.randint(3, 10))))
        runs[inst["id"]] = iv

    rows = []
    bad_qty_done = bad_ts_done = False
    for inst in p5 + [p4d] + g5x12 + g5x1 + [m5]:
        region = inst["region"]
        rname, rcode = REGIONS[region]
        sku_id, sku_price = sku[(inst["itype"], region)]
        for day in days:
            nxt = day + dt.timedelta(days=1)
            secs = sum(max(0.0, (min(b, nxt) - max(a, day)).total_seconds()) for a, b in runs[inst["id"]])
            if secs <= 0:
                continue
            hours = secs / 3600.0
            cost = round(hours * PRICE[inst["itype"]], 6)
            bps, bpe = billing_period(day)
            row = {
                "BillingAccountId": PAYER[0], "BillingAccountName": PAYER[1],
                "SubAccountId": inst["sub"][0], "SubAccountName": inst["sub"][1],
                "ProviderName": "AWS", "PublisherName": "Amazon Web Services, Inc.",
                "InvoiceIssuerName": "Amazon Web Services EMEA SARL", "BillingCurrency": "USD",
                "BillingPeriodStart": bps, "BillingPeriodEnd": bpe,
                "ChargePeriodStart": zfmt(day), "ChargePeriodEnd": zfmt(nxt),
                "ChargeCategory": "Usage", "ChargeClass": "",
                "ChargeDescription": f"${PRICE[inst['itype']]:.4f} per On Demand Linux {inst['itype']} Instance Hour",
                "ChargeFrequency": "Usage-Based", "ServiceName": "Amazon Elastic Compute Cloud",
                "ServiceCategory": "Compute", "RegionId": region, "RegionName": rname,
                "AvailabilityZone": inst["az"], "ResourceId": inst["id"], "ResourceName": inst["name"],
                "ResourceType": "instance", "SkuId": sku_id, "SkuPriceId": sku_price,
                "SkuMeter": f"BoxUsage:{inst['itype']}", "ConsumedQuantity": f"{hours:g}",
                "ConsumedUnit": "Hours", "PricingQuantity": f"{hours:g}", "PricingUnit": "Hours",
                "ListCost": money(cost), "BilledCost": money(cost), "EffectiveCost": money(cost),
                "ContractedCost": money(cost),
                "Tags": json.dumps(inst["tags"]) if inst["tags"] else "{}",
                "x_ServiceCode": "AmazonEC2", "x_UsageType": f"{rcode}-BoxUsage:{inst['itype']}",
                "x_Operation": "RunInstances",
            }
            # DEFECT 1: a g5.12xlarge row whose quantity is text
            if not bad_qty_done and inst is g5x12[2] and day == dt.datetime(2026, 8, 14, tzinfo=UTC):
                row["ConsumedQuantity"] = "twenty-four"
                bad_qty_done = True
            # DEFECT 2: a g5.xlarge row whose ChargePeriodStart is not ISO 8601 (and not even a valid hour)
            if not bad_ts_done and inst is g5x1[0] and day == dt.datetime(2026, 8, 31, tzinfo=UTC):
                row["ChargePeriodStart"] = "31/08/2026 25:00"
                bad_ts_done = True
            rows.append(row)
    assert bad_qty_done and bad_ts_done

    # S3: a training-data bucket, one storage row per day (GB-Mo pro rata per day)
    s3_sku = (rand_token(rng, 16), f"{rand_token(rng, 16)}.{rand_token(rng, 10)}")
    gb = 38_000.0
    for day in days:
        gb += rng.uniform(20, 140)
        dim = (dt.date(day.year + (day.month == 12), day.month % 12 + 1, 1) - dt.date(day.year, day.month, 1)).days
        qty = round(gb / dim, 6)
        cost = round(qty * S3_PRICE_GB_MO, 6)
        bps, bpe = billing_period(day)
        rows.append({
            "BillingAccountId": PAYER[0], "BillingAccountName": PAYER[1],
            "SubAccountId": SUB_RESEARCH[0], "SubAccountName": SUB_RESEARCH[1],
            "ProviderName": "AWS", "PublisherName": "Amazon Web Services, Inc.",
            "InvoiceIssuerName": "Amazon Web Services EMEA SARL", "BillingCurrency": "USD",
            "BillingPeriodStart": bps, "BillingPeriodEnd": bpe,
            "ChargePeriodStart": zfmt(day), "ChargePeriodEnd": zfmt(day + dt.timedelta(days=1)),
            "ChargeCategory": "Usage", "ChargeClass": "",
            "ChargeDescription": f"${S3_PRICE_GB_MO:.3f} per GB - first 50 TB / month of storage used",
            "ChargeFrequency": "Usage-Based", "ServiceName": "Amazon Simple Storage Service",
            "ServiceCategory": "Storage", "RegionId": "eu-west-2", "RegionName": "Europe (London)",
            "AvailabilityZone": "", "ResourceId": "northwind-training-corpus", "ResourceName": "northwind-training-corpus",
            "ResourceType": "bucket", "SkuId": s3_sku[0], "SkuPriceId": s3_sku[1],
            "SkuMeter": "TimedStorage-ByteHrs", "ConsumedQuantity": f"{qty:g}", "ConsumedUnit": "GB-Mo",
            "PricingQuantity": f"{qty:g}", "PricingUnit": "GB-Mo",
            "ListCost": money(cost), "BilledCost": money(cost), "EffectiveCost": money(cost), "ContractedCost": money(cost),
            "Tags": json.dumps({"project": "foundation"}),
            "x_ServiceCode": "AmazonS3", "x_UsageType": "EUW2-TimedStorage-ByteHrs", "x_Operation": "StandardStorage",
        })

    # monthly Tax (20 % VAT on the month's usage) and one Credit in September
    def usage_total(month: int) -> float:
        return sum(float(r["BilledCost"]) for r in rows
                   if r["ChargeCategory"] == "Usage" and r["BillingPeriodStart"].startswith(f"2026-{month:02d}"))

    for month in (7, 8, 9):
        start = dt.datetime(2026, month, 1, tzinfo=UTC)
        bps, bpe = billing_period(start)
        tax = round(usage_total(month) * 0.20, 2)
        rows.append(_non_usage_row("Tax", bps, bpe, "VAT (20%) for the billing period", "Recurring", tax))
    start = dt.datetime(2026, 9, 1, tzinfo=UTC)
    bps, bpe = billing_period(start)
    rows.append(_non_usage_row("Credit", bps, bpe, "AWS Activate promotional credit (fictional)", "One-Time",
                               -2500.0))
    return rows


def _non_usage_row(category, bps, bpe, desc, freq, amount) -> dict:
    row = {c: "" for c in FOCUS_COLUMNS}
    row.update({
        "BillingAccountId": PAYER[0], "BillingAccountName": PAYER[1],
        "SubAccountId": PAYER[0], "SubAccountName": PAYER[1],
        "ProviderName": "AWS", "PublisherName": "Amazon Web Services, Inc.",
        "InvoiceIssuerName": "Amazon Web Services EMEA SARL", "BillingCurrency": "USD",
        "BillingPeriodStart": bps, "BillingPeriodEnd": bpe, "ChargePeriodStart": bps, "ChargePeriodEnd": bpe,
        "ChargeCategory": category, "ChargeDescription": desc, "ChargeFrequency": freq,
        "ServiceName": "Amazon Elastic Compute Cloud", "ServiceCategory": "Compute",
        "ListCost": money(amount) if category == "Tax" else "0.0",
        "BilledCost": money(amount), "EffectiveCost": money(amount), "ContractedCost": money(amount),
        "Tags": "{}", "x_ServiceCode": "AmazonEC2",
        "x_UsageType": "Tax" if category == "Tax" else "Credit",
        "x_Operation": "",
    })
    return row


def write_focus(rows: list[dict], path: Path) -> None:
    rows = sorted(rows, key=lambda r: (r["BillingPeriodStart"], r["ChargeCategory"] != "Usage",
                                       r["ChargePeriodStart"] if r["ChargePeriodStart"][:1] == "2" else "2026-08-31T",
                                       r["ServiceName"], r["ResourceId"]))
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=FOCUS_COLUMNS, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)


# ---------------------------------------------------------------------------------------------
# Azure EA cost details export (second cloud) and AWS CARBON_EMISSIONS (provider-reported carbon)
# Drawn from their own random stream, so the files above stay byte-identical.
# ---------------------------------------------------------------------------------------------

AZURE_COLUMNS = [
    "BillingAccountId", "BillingAccountName", "BillingPeriodStartDate", "BillingPeriodEndDate", "SubscriptionId",
    "SubscriptionName", "Date", "Product", "MeterId", "ServiceFamily", "MeterCategory", "MeterSubCategory",
    "MeterRegion", "MeterName", "Quantity", "EffectivePrice", "CostInBillingCurrency", "UnitPrice", "BillingCurrency",
    "ResourceLocation", "ConsumedService", "ResourceId", "ResourceName", "AdditionalInfo", "Tags", "UnitOfMeasure",
    "ResourceGroup", "ChargeType", "PublisherType", "PricingModel",
]
AZ_SUB = ("7d5c2a10-4f1e-4c3b-9a6d-2b8e1f0c9a11", "northwind-azure-inference")
# fictional EUR prices per hour
AZ_VMS = {"Standard_ND96asr_v4": ("NDasrA100v4 Series", "ND96asr A100 v4", 27.20),
          "Standard_NC24ads_A100_v4": ("NCadsA100v4 Series", "NC24ads A100 v4", 3.67)}


def azure_rows(rng: random.Random) -> list[dict]:
    rows = []
    days = [dt.date(2026, 7, 1) + dt.timedelta(days=i) for i in range(92)]
    fine_tune_days = {dt.date(2026, 8, 3) + dt.timedelta(days=i) for i in range(5)}
    for day in days:
        usage = [("Standard_NC24ads_A100_v4", f"nw-az-serve-{k}", 24.0, {"project": "search-ranker", "workload": "inference"})
                 for k in (1, 2)]
        if day in fine_tune_days:
            usage.append(("Standard_ND96asr_v4", "nw-az-ft-ranker", 24.0 if day != max(fine_tune_days) else 9.5,
                          {"project": "search-ranker", "workload": "fine-tuning"}))
        for size, name, hours, tags in usage:
            sub, meter, price = AZ_VMS[size]
            hours = round(hours - rng.choice([0.0, 0.0, 0.0, 0.25]), 2)
            first = dt.date(day.year, day.month, 1)
            last = (dt.date(day.year + (day.month == 12), day.month % 12 + 1, 1) - dt.timedelta(days=1))
            rows.append({
                "BillingAccountId": "71234567", "BillingAccountName": "Northwind Intelligence Ltd (EA)",
                "BillingPeriodStartDate": first.strftime("%m/%d/%Y"), "BillingPeriodEndDate": last.strftime("%m/%d/%Y"),
                "SubscriptionId": AZ_SUB[0], "SubscriptionName": AZ_SUB[1], "Date": day.strftime("%m/%d/%Y"),
                "Product": f"Virtual Machines {sub} - {meter} - EU West", "MeterId": rand_token(rng, 8).lower(),
                "ServiceFamily": "Compute", "MeterCategory": "Virtual Machines", "MeterSubCategory": sub,
                "MeterRegion": "EU West", "MeterName": meter, "Quantity": f"{hours:g}", "EffectivePrice": f"{price:g}",
                "CostInBillingCurrency": money(round(hours * price, 6)), "UnitPrice": f"{price:g}",
                "BillingCurrency": "EUR", "ResourceLocation": "westeurope",
                "ConsumedService": "Microsoft.Compute",
                "ResourceId": f"/subscriptions/{AZ_SUB[0]}/resourceGroups/rg-ml/providers/Microsoft.Compute/virtualMachines/{name}",
                "ResourceName": name,
                "AdditionalInfo": json.dumps({"UsageType": "ComputeHR", "ImageType": "Canonical", "ServiceType": size,
                                              "VCPUs": 96 if size.startswith("Standard_ND") else 24}),
                # EA exports write tags without the surrounding braces
                "Tags": ",".join(f'"{k}": "{v}"' for k, v in tags.items()),
                "UnitOfMeasure": "1 Hour", "ResourceGroup": "rg-ml", "ChargeType": "Usage",
                "PublisherType": "Azure", "PricingModel": "OnDemand",
            })
    # one reservation purchase (not usage: no energy) in July
    rows.append({**{c: "" for c in AZURE_COLUMNS}, "BillingAccountId": "71234567",
                 "BillingAccountName": "Northwind Intelligence Ltd (EA)", "BillingPeriodStartDate": "07/01/2026",
                 "BillingPeriodEndDate": "07/31/2026", "SubscriptionId": AZ_SUB[0], "SubscriptionName": AZ_SUB[1],
                 "Date": "07/15/2026", "Product": "Reserved VM Instance, Standard_NC24ads_A100_v4, EU West, 1 Year",
                 "ServiceFamily": "Compute", "MeterCategory": "Virtual Machines Licenses", "Quantity": "1",
                 "CostInBillingCurrency": "12045.5", "BillingCurrency": "EUR", "ResourceLocation": "westeurope",
                 "UnitOfMeasure": "1 Hour", "ChargeType": "Purchase", "PricingModel": "Reservation"})
    return rows


def dcgm_range_json(jobs: list, rng: random.Random) -> dict:
    """DCGM exporter power of node gpu004 (the evaluation lane, 8 H100) for July, as a Prometheus range query
    at a 15-minute step: ~640 W per GPU while a job runs on the node, ~72 W idle. GPU power only (no CPU,
    memory or network), so it is below the node's share of the meter, as real telemetry is."""
    start = local(2026, 7, 1).astimezone(UTC)
    end = local(2026, 8, 1).astimezone(UTC)
    on_node = [j for j in jobs if 4 in j.nodes and j.start is not None]
    steps = int((end - start).total_seconds() // 900)
    result = []
    for g in range(8):
        uuid = f"GPU-4004{g:04d}-0000-4000-8000-00000000{g:04d}"
        values = []
        for k in range(steps):
            t = start + dt.timedelta(seconds=900 * k)
            busy = any(j.start <= t < j.busy_until() for j in on_node)
            watts = rng.uniform(610, 670) if busy else rng.uniform(66, 78)
            values.append([int(t.timestamp()), f"{watts:.2f}"])
        result.append({"metric": {"__name__": "DCGM_FI_DEV_POWER_USAGE", "gpu": str(g), "UUID": uuid,
                                  "device": f"nvidia{g}", "modelName": "NVIDIA H100 80GB HBM3",
                                  "Hostname": "gpu004"},
                       "values": values})
    return {"status": "success", "data": {"resultType": "matrix", "result": result}}


CARBON_COLUMNS = ["last_refresh_timestamp", "location", "model_version", "payer_account_id", "product_code",
                  "region_code", "total_lbm_emissions_unit", "total_lbm_emissions_value", "total_mbm_emissions_unit",
                  "total_mbm_emissions_value", "usage_account_id", "usage_period_end", "usage_period_start"]


def aws_carbon_rows(focus: list[dict]) -> list[dict]:
    """What AWS's customer carbon footprint export would report for the demo accounts: one row per account x
    product x region x month. The figures are fictional: the instance-hours of the FOCUS file times fixed
    per-hour rates (MTCO2e), so the provider's and our estimates differ, as they do in practice."""
    per_hour_t = {"p5.48xlarge": 0.0021, "p4d.24xlarge": 0.0009, "g5.12xlarge": 0.00016, "g5.xlarge": 0.00004,
                  "m5.2xlarge": 0.00001}
    mbm_share = {"us-east-1": 0.55, "eu-west-2": 0.15}     # fictional renewable-purchase effect in the MBM
    acc: dict[tuple, float] = {}
    for r in focus:
        if r["ChargeCategory"] == "Usage" and r["ConsumedUnit"] == "GB-Mo":
            month = r["ChargePeriodStart"][:7]
            key = (r["SubAccountId"], "AmazonS3", r["RegionId"], month)
            acc[key] = acc.get(key, 0.0) + float(r["ConsumedQuantity"]) * 0.0000004   # fictional t per GB-month
            continue
        if r["ChargeCategory"] != "Usage" or r["ConsumedUnit"] != "Hours":
            continue
        try:
            hours = float(r["ConsumedQuantity"])
            month = dt.datetime.fromisoformat(r["ChargePeriodStart"].replace("Z", "+00:00")).strftime("%Y-%m")
        except ValueError:
            continue
        itype = r["SkuMeter"].split(":", 1)[1]
        key = (r["SubAccountId"], "AmazonEC2", r["RegionId"], month)
        acc[key] = acc.get(key, 0.0) + hours * per_hour_t[itype]
    rows = []
    for (account, product, region, month), lbm in sorted(acc.items()):
        y, m = map(int, month.split("-"))
        start = dt.datetime(y, m, 1, tzinfo=UTC)
        end = dt.datetime(y + (m == 12), 1 if m == 12 else m + 1, 1, tzinfo=UTC)
        rows.append({"last_refresh_timestamp": (end + dt.timedelta(days=20)).strftime("%Y-%m-%d %H:%M:%SZ"),
                     "location": REGIONS[region][0], "model_version": "v3.0.0", "payer_account_id": PAYER[0],
                     "product_code": product, "region_code": region, "total_lbm_emissions_unit": "MTCO2e",
                     "total_lbm_emissions_value": f"{lbm:.6f}", "total_mbm_emissions_unit": "MTCO2e",
                     "total_mbm_emissions_value": f"{lbm * mbm_share[region]:.6f}", "usage_account_id": account,
                     "usage_period_end": end.strftime("%Y-%m-%d %H:%M:%SZ"),
                     "usage_period_start": start.strftime("%Y-%m-%d %H:%M:%SZ")})
    return rows


def write_rows(rows: list[dict], columns: list[str], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=columns, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)


# ---------------------------------------------------------------------------------------------
# Summary (what the README quotes; computed from the generated data, London months)
# ---------------------------------------------------------------------------------------------

def month_split(s: dt.datetime, e: dt.datetime) -> dict[str, float]:
    """Hours of [s, e) inside the period, split by London calendar month."""
    s, e = max(s, P_START), min(e, P_END)
    out: dict[str, float] = {}
    t = s
    while t < e:
        lt = t.astimezone(LONDON)
        nm = dt.datetime(lt.year + (lt.month == 12), lt.month % 12 + 1, 1, tzinfo=LONDON).astimezone(UTC)
        u = min(e, nm)
        key = f"{lt.year:04d}-{lt.month:02d}"
        out[key] = out.get(key, 0.0) + (u - t).total_seconds() / 3600.0
        t = u
    return out


def summary(jobs, energy, total_facility_kwh, go_mwh, n_focus, path_sizes) -> str:
    months = ["2026-07", "2026-08", "2026-09"]
    phases = ["training", "fine_tuning", "inference", "evaluation"]
    gh = {p: {m: 0.0 for m in months} for p in phases}
    for j in jobs:
        for m, h in month_split(j.start, j.busy_until()).items():
            gh[j.kind][m] += h * j.gpus
    lines = ["GPU-hours from sacct (in-period part, London months; RUNNING job counted to period end):",
             f"  {'phase':<12}" + "".join(f"{m:>12}" for m in months) + f"{'total':>12}"]
    for p in phases:
        lines.append(f"  {p:<12}" + "".join(f"{gh[p][m]:12.1f}" for m in months) + f"{sum(gh[p].values()):12.1f}")
    tot = {m: sum(gh[p][m] for p in phases) for m in months}
    lines.append(f"  {'all':<12}" + "".join(f"{tot[m]:12.1f}" for m in months) + f"{sum(tot.values()):12.1f}")
    cap = {m: 128 * h for m, h in month_split(P_START, P_END).items()}
    lines.append("  utilisation " + "".join(f"{tot[m] / cap[m]:12.1%}" for m in months))
    lines.append("Metered IT energy, kWh (London months, as written after rounding):")
    for meter, vals in energy.items():
        per = {m: 0.0 for m in months}
        for h, v in enumerate(vals):
            t = (P_START + dt.timedelta(hours=h)).astimezone(LONDON)
            per[f"{t.year:04d}-{t.month:02d}"] += v
        lines.append(f"  {meter:<12}" + "".join(f"{per[m]:12.1f}" for m in months) + f"{sum(per.values()):12.1f}")
    lines.append(f"Facility energy at PUE {PUE}: {total_facility_kwh:.1f} kWh; GO certificate (40 %): {go_mwh} MWh")
    lines.append(f"Jobs: {len(jobs)} allocations (+1 PENDING); FOCUS rows: {n_focus}")
    for p, size in path_sizes:
        lines.append(f"  {p}: {size} bytes")
    return "\n".join(lines)


ASSET_COLUMNS = ["asset_id", "description", "asset_class", "quantity", "acquisition_date", "site",
                 "embodied_kg_co2e_per_unit", "factor_source", "cost", "currency", "accelerator_model"]
# proxy for an 8-GPU server: Cloud Carbon Footprint's host embodied coefficient of AWS p4d.24xlarge (8x A100),
# the nearest 8-GPU host in its catalogue (evidence/hardware/embodied.csv); a real register cites the vendor's PCF
SERVER_EMBODIED_KG = 4676.79
SERVER_FACTOR_SOURCE = ("Proxy: Cloud Carbon Footprint coefficients-aws-embodied.csv @b0032d928c, p4d.24xlarge host "
                        "(8x A100, 1000 kg base + components), Apache-2.0 - replace with the vendor's product carbon footprint")


def asset_rows() -> list[dict]:
    """Asset register lines: two purchases in Q3 (one on the last day), one in Q2 (outside the period)."""
    base = {"asset_class": "server", "site": "lon-colo-1", "embodied_kg_co2e_per_unit": f"{SERVER_EMBODIED_KG:g}",
            "factor_source": SERVER_FACTOR_SOURCE, "currency": "GBP", "accelerator_model": "H100-SXM"}
    return [
        {**base, "asset_id": "NW-2026-009", "description": "GPU server 8x H100 SXM (rack 2)", "quantity": "2",
         "acquisition_date": "2026-05-20", "cost": "560000"},
        {**base, "asset_id": "NW-2026-017", "description": "GPU server 8x H100 SXM (rack 3 expansion)", "quantity": "4",
         "acquisition_date": "2026-08-12", "cost": "1120000"},
        {**base, "asset_id": "NW-2026-021", "description": "GPU server 8x H100 SXM (spare)", "quantity": "1",
         "acquisition_date": "2026-09-30", "cost": "280000"},
    ]


def hourly_intensity_rows(rng: random.Random) -> list[dict]:
    """A SYNTHETIC hourly grid-intensity profile for GB over the quarter (plain zone,datetime,... layout,
    direct boundary), in gCO2e/kWh: higher in the evening peak, lower at night and at midday (solar), with
    day-to-day wind variation. Demo data only - real runs use an Electricity Maps export or similar."""
    rows = []
    hours = int((P_END - P_START).total_seconds() // 3600)
    wind = 1.0
    for h in range(hours):
        t = P_START + dt.timedelta(hours=h)
        utc = t.astimezone(dt.timezone.utc)
        local_h = t.astimezone(LONDON).hour
        if local_h == 0:
            wind = rng.uniform(0.75, 1.25)
        evening = 45.0 * math.cos(2 * math.pi * (local_h - 18) / 24)
        solar = -30.0 * math.exp(-((local_h - 13) / 3.0) ** 2)
        g = max(40.0, (175.0 + evening + solar) * wind)
        rows.append({"zone": "GB", "datetime": utc.strftime("%Y-%m-%dT%H:%M:%SZ"),
                     "carbon_intensity_g_per_kwh": f"{g:.1f}", "boundary": "direct"})
    return rows


PPA_ID = "PPA-LON-SOLAR-01"
PPA_PEAK_KWH = 60.0   # per hour at solar noon on a clear day


def ppa_generation_rows(rng: random.Random) -> list[dict]:
    """Hourly generation of a (fictional) solar PPA: daylight hours only, with cloud cover per day."""
    rows = []
    hours = int((P_END - P_START).total_seconds() // 3600)
    cloud = 1.0
    for h in range(hours):
        t = P_START + dt.timedelta(hours=h)
        local_h = t.astimezone(LONDON).hour
        if local_h == 0:
            cloud = rng.uniform(0.3, 1.0)
        sun = math.sin(math.pi * (local_h - 5) / 15) if 5 < local_h < 20 else 0.0
        kwh = round(PPA_PEAK_KWH * sun * cloud, 3)
        if kwh > 0:
            rows.append({"instrument_id": PPA_ID, "hour_start": t.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                         "energy": f"{kwh:.3f}", "unit": "kWh"})
    return rows


def request_count_rows(rng: random.Random) -> list[dict]:
    """Requests served per model and month (the serving gateway's counts), with the successful ones."""
    rows = []
    for model, base, ok in (("legal-assistant", 2_400_000, 0.81), ("search-ranker", 9_000_000, 0.93)):
        for i, month in enumerate(("2026-07", "2026-08", "2026-09")):
            n = int(base * (1.06 ** i) * rng.uniform(0.97, 1.03))
            rows.append({"model": model, "month": month, "requests": str(n),
                         "successful_requests": str(int(n * ok * rng.uniform(0.99, 1.01)))})
    return rows


def main() -> None:
    rng = random.Random(SEED)
    node_idle_kw = {n: round(rng.uniform(1.05, 1.15), 3) for n in range(1, N_NODES + 1)}
    jobs = generate_jobs(rng)
    check_no_overlap(jobs)

    sacct_path = DATA / "slurm" / "lon-colo-1_sacct_2026Q3.txt"
    meter_path = DATA / "meters" / "lon-colo-1_2026Q3.csv"
    focus_path = DATA / "billing" / "aws_focus_2026Q3.csv"

    write_sacct(jobs, node_idle_kw, rng, sacct_path)
    energy = meter_energy(jobs, node_idle_kw, rng)
    # use the rounded values that are written, so the summary matches the file exactly
    energy["LON1-PDU-A"] = [round(v, 3) for v in energy["LON1-PDU-A"]]
    energy["LON1-PDU-B"] = [round(v * 1000) / 1000 for v in energy["LON1-PDU-B"]]
    write_meters(energy, meter_path)
    rows = focus_rows(rng)
    write_focus(rows, focus_path)
    tele_rng = random.Random(SEED + 2)
    tele_path = DATA / "telemetry" / "gpu004_dcgm_2026-07.json"
    tele_path.parent.mkdir(parents=True, exist_ok=True)
    tele_path.write_text(json.dumps(dcgm_range_json(jobs, tele_rng), separators=(",", ":")) + "\n", encoding="utf-8")
    extra_rng = random.Random(SEED + 1)
    write_rows(azure_rows(extra_rng), AZURE_COLUMNS, DATA / "billing" / "azure_ea_2026Q3.csv")
    write_rows(aws_carbon_rows(rows), CARBON_COLUMNS, DATA / "carbon" / "aws_carbon_emissions_2026Q3.csv")
    write_rows(asset_rows(), ASSET_COLUMNS, DATA / "assets" / "asset_register_2026.csv")
    hourly_rng = random.Random(SEED + 3)
    write_rows(hourly_intensity_rows(hourly_rng), ["zone", "datetime", "carbon_intensity_g_per_kwh", "boundary"],
               DATA / "hourly" / "gb_intensity_2026Q3_SYNTHETIC.csv")
    ppa = ppa_generation_rows(hourly_rng)
    write_rows(ppa, ["instrument_id", "hour_start", "energy", "unit"], DATA / "hourly" / "ppa_solar_generation_2026Q3.csv")
    write_rows(request_count_rows(random.Random(SEED + 4)), ["model", "month", "requests", "successful_requests"],
               DATA / "requests" / "request_counts_2026Q3.csv")
    print(f"PPA {PPA_ID}: {sum(float(r['energy']) for r in ppa) / 1000:.3f} MWh generated in the quarter")

    total_it = sum(sum(v) for v in energy.values())
    facility = total_it * PUE
    go_mwh = round(facility * GO_SHARE / 1000.0, 1)
    sizes = [(p.relative_to(HERE).as_posix(), p.stat().st_size) for p in (focus_path, sacct_path, meter_path)]
    print(summary(jobs, energy, facility, go_mwh, len(rows), sizes))


if __name__ == "__main__":
    main()
