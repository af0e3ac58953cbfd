"""carbon-disclosure as a Dagster asset: one partition per reporting quarter.

    pip install -e ".[orchestration]"        # dagster + dagster-webserver (the UI)
    dagster dev -f examples/orchestration/dagster_disclosure.py

``emissions_disclosure`` is partitioned by quarter (``2026-Q3``). Materialising a partition loads the config
file, replaces its ``period`` with the partition key, and runs the pipeline (``pipeline.run.run``) into
``<out_root>/<partition>``: the same pack as ``carbon-disclosure run CONFIG --out <out_root>/<partition>``.
The key figures become the materialisation's metadata, and the pack's run id its data version.

Settings
    resource ``carbon_disclosure`` (deployment-wide): ``config_path`` and ``out_root``; defaults from the
    environment variables ``CARBON_DISCLOSURE_CONFIG`` and ``CARBON_DISCLOSURE_OUT``, else the bundled demo
    config and ``out/dagster`` in the repository (git-ignored).
    run config ``force`` (per run, in the launchpad): ``false`` by default, as the CLI without ``--force``.

Reruns of a partition are safe (``pipeline.run.run`` does the work; nothing here is needed on top):
    - same config, code, factor library and input files -> no-op: the pack is left as it is and its figures
      are reported again (metadata ``unchanged: true``);
    - anything changed (a corrected billing export: a restatement) -> the run fails with an OutputError and the
      published pack is kept; launch it again with ``force: true`` to replace the pack;
    - a failing run never touches the published pack (outputs are staged and moved into place at the end), and
      a second run of the same partition while one is writing fails at once ("another run is writing ...").

Errors: a ``DisclosureError`` (bad config, unreadable input, failed validation, unwritable output) fails the
step with ``dagster.Failure``: its description is the pipeline's rendered message, its metadata carries the
CLI's ``exit_code`` (1 validation failed, 2 config / input / output) and the error class. These are not retried
(``allow_retries=False``): the same inputs fail the same way. Any other exception is a bug (the CLI's exit 3)
and fails the step with its traceback.
"""

import datetime as dt
import json
import os
from pathlib import Path

import dagster as dg

from pipeline import __version__ as PIPELINE_VERSION
from pipeline.config import config_from_dict, load_config
from pipeline.errors import DisclosureError
from pipeline.log import configure as configure_log
from pipeline.run import run

REPO_ROOT = Path(__file__).resolve().parents[2]
DEMO_CONFIG = REPO_ROOT / "examples" / "demo" / "disclosure.yaml"
DEFAULT_OUT_ROOT = REPO_ROOT / "out" / "dagster"

# First quarter offered as a partition; change it to your first reporting quarter.
FIRST_QUARTER = "2024-Q1"


def _quarter(key: str) -> tuple[int, int]:
    year, q = key.split("-Q")
    return int(year), int(q)


def last_completed_quarter(today: dt.date | None = None) -> str:
    today = today or dt.date.today()
    q = (today.month - 1) // 3 + 1
    year, q = (today.year - 1, 4) if q == 1 else (today.year, q - 1)
    return f"{year}-Q{q}"


def quarter_keys(first: str, last: str) -> list[str]:
    """``2024-Q1`` .. ``last`` inclusive."""
    (y, q), end = _quarter(first), _quarter(last)
    keys = []
    while (y, q) <= end:
        keys.append(f"{y}-Q{q}")
        y, q = (y + 1, 1) if q == 4 else (y, q + 1)
    return keys


# Completed quarters only (a quarter in progress cannot be disclosed: its meters do not cover the period yet).
# The list is computed when the code location loads: reload it (UI: "Reload definitions") after a quarter ends.
quarterly_partitions = dg.StaticPartitionsDefinition(quarter_keys(FIRST_QUARTER, last_completed_quarter()))


class CarbonDisclosureResource(dg.ConfigurableResource):
    """Where the config file is and where the packs go (one directory per partition)."""

    config_path: str
    out_root: str

    def load(self, period: str):
        """The config file, validated as ``load_config`` does, with ``period`` replaced.

        The whole config is validated again with the new period (``cfg.model_copy(update={"period": "2026-Q3"})``
        would not parse the string: the pipeline would get a str where it expects a Period). Errors still name
        the config file, and the pack's ``config/`` holds the file as written."""
        path = Path(self.config_path).expanduser().resolve()
        cfg = load_config(path)
        if cfg.period.label == period:
            return cfg
        return config_from_dict({**cfg.model_dump(), "period": period}, file=str(path), base_dir=cfg.base_dir)

    def out_dir(self, partition: str) -> Path:
        return Path(self.out_root).expanduser().resolve() / partition


class DisclosureRunConfig(dg.Config):
    force: bool = False
    """Replace the partition's pack even if it holds another run (the CLI's --force). Without it a rerun with
    unchanged inputs is a no-op and a rerun with changed inputs fails, keeping the published pack."""


def _metadata(summary: dict, out_dir: Path, *, unchanged: bool, config_path: str) -> dict:
    e = summary["emissions_tco2e"]
    return {
        "period": summary["period"]["label"],
        "scope1_tco2e": dg.MetadataValue.float(float(e["scope1"])),
        "scope2_location_based_tco2e": dg.MetadataValue.float(float(e["scope2_location_based"])),
        "scope2_market_based_tco2e": dg.MetadataValue.float(float(e["scope2_market_based"])),
        "scope3_total_tco2e": dg.MetadataValue.float(float(e["scope3_total"])),
        "total_location_based_tco2e": dg.MetadataValue.float(float(e["total_location_based"])),
        "total_market_based_tco2e": dg.MetadataValue.float(float(e["total_market_based"])),
        "energy_own_operations_mwh": dg.MetadataValue.float(float(summary["energy_mwh"]["total_own_operations"])),
        "rows_quarantined": dg.MetadataValue.int(sum(int(i["rows_quarantined"]) for i in summary["inputs"])),
        "run_id": summary["run"]["id"],
        "unchanged": dg.MetadataValue.bool(unchanged),
        "pack": dg.MetadataValue.path(str(out_dir)),
        "pdf": dg.MetadataValue.path(str(out_dir / "disclosure.pdf")),
        "summary": dg.MetadataValue.path(str(out_dir / "summary.json")),
        "config": dg.MetadataValue.path(config_path),
    }


class _DagsterLog:
    """Stream for ``pipeline.log``: each JSON event line goes to the Dagster run's log."""

    def __init__(self, log) -> None:
        self._log = log

    def write(self, text: str) -> None:
        for line in text.splitlines():
            try:
                event = json.loads(line)
            except ValueError:
                self._log.info(line)
                continue
            level = event.pop("level", "info")
            event.pop("ts", None)
            name = event.pop("event", "")
            msg = f"[{name}] " + ", ".join(f"{k}={v}" for k, v in event.items())
            (self._log.error if level == "error" else self._log.info)(msg)

    def flush(self) -> None:
        pass


def _route_pipeline_log(log):
    """Send the pipeline's run events (``pipeline.log``) to the Dagster log; returns the undo."""
    configure_log("json", False, _DagsterLog(log))
    return configure_log


@dg.asset(
    partitions_def=quarterly_partitions,
    group_name="carbon_disclosure",
    code_version=PIPELINE_VERSION,
    kinds={"python", "pdf"},
    description="Quarterly CSRD (ESRS E1) / GHG Protocol emissions disclosure pack: PDF, XLSX, summary.json, "
                "ledger and evidence, written by carbon-disclosure into <out_root>/<quarter>.",
)
def emissions_disclosure(context: dg.AssetExecutionContext, config: DisclosureRunConfig,
                         carbon_disclosure: CarbonDisclosureResource) -> dg.MaterializeResult:
    partition = context.partition_key
    out_dir = carbon_disclosure.out_dir(partition)
    restore_log = _route_pipeline_log(context.log)
    try:
        cfg = carbon_disclosure.load(partition)
        result = run(cfg, out_dir, force=config.force)
    except DisclosureError as exc:
        raise dg.Failure(
            description=exc.render(),
            metadata={"exit_code": dg.MetadataValue.int(exc.exit_code), "error": type(exc).__name__,
                      "partition": partition, "out_dir": dg.MetadataValue.path(str(out_dir))},
            allow_retries=False,
        ) from None
    finally:
        restore_log()
    unchanged = result.unchanged
    if unchanged:
        context.log.info(f"{result.out_dir} already holds run {result.summary['run']['id']} (same config, code, "
                         "factors and inputs): nothing was written. Launch with force: true to rebuild.")
    return dg.MaterializeResult(
        metadata=_metadata(result.summary, result.out_dir, unchanged=unchanged,
                           config_path=str(Path(carbon_disclosure.config_path).expanduser().resolve())),
        data_version=dg.DataVersion(result.summary["run"]["id"]),
    )


defs = dg.Definitions(
    assets=[emissions_disclosure],
    resources={
        "carbon_disclosure": CarbonDisclosureResource(
            config_path=os.environ.get("CARBON_DISCLOSURE_CONFIG", str(DEMO_CONFIG)),
            out_root=os.environ.get("CARBON_DISCLOSURE_OUT", str(DEFAULT_OUT_ROOT)),
        ),
    },
)
