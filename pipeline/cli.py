"""Command line: a thin layer over the library. Each command calls one library function and turns the
library's errors into a clean message and a documented exit code:

    0 ok   1 validation failed (inputs unreliable)   2 usage / config / input error   3 internal error
"""

from __future__ import annotations

import argparse
import json
import sys
import traceback
from pathlib import Path

from pipeline import __version__
from pipeline.errors import EXIT_INTERNAL, EXIT_OK, EXIT_VALIDATION_FAILED, DisclosureError
from pipeline.log import configure, log_event

DEMO_CONFIG = Path(__file__).resolve().parents[1] / "examples" / "demo" / "disclosure.yaml"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="carbon-disclosure",
                                description="CSRD / GHG Protocol emissions disclosure for AI compute.")
    p.add_argument("--version", action="version", version=f"carbon-disclosure {__version__}")
    p.add_argument("--log-format", choices=["text", "json"], default="text",
                   help="events on stderr: text (progress, on a terminal only) or json (one object per line)")
    p.add_argument("--quiet", action="store_true", help="print nothing but errors and the result")
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="run the disclosure for a config file and write the pack to --out")
    r.add_argument("config", help="path of disclosure.yaml")
    r.add_argument("--period", metavar="YYYY-Qn", help="report this quarter instead of the config's period (for schedulers)")
    d = sub.add_parser("demo", help="run the bundled demo quarter (examples/demo)")
    for c in (r, d):
        c.add_argument("--out", required=True, help="output directory (a rerun with unchanged inputs is a no-op)")
        c.add_argument("--force", action="store_true", help="replace an existing output directory, even if unchanged")
        c.add_argument("--copy-inputs", action="store_true", help="also copy every input file into the pack (inputs/)")
        c.add_argument("--previous", metavar="PACK",
                       help="a previous pack: period-over-period change, or a restatement table for the same period")
    i = sub.add_parser("init", help="look at a folder of exports and write a commented disclosure.yaml to complete")
    i.add_argument("dir", help="folder holding the billing exports, job logs, telemetry and meter files")
    i.add_argument("--out", default="disclosure.yaml", help="where to write the draft config (default: disclosure.yaml)")
    i.add_argument("--force", action="store_true", help="overwrite an existing file")
    vf = sub.add_parser("verify", help="verify an evidence pack: files against manifest.json, ledger re-performance, "
                                       "totals, workbook and PDF attachments")
    vf.add_argument("pack", help="output directory of a run")
    v = sub.add_parser("validate", help="ingest and validate the config's inputs only; print a data-quality summary")
    v.add_argument("config", help="path of disclosure.yaml")
    v.add_argument("--out", help="also keep the quarantine files and Great Expectations Data Docs in this folder")
    for c in (r, d, v):
        c.add_argument("--engine", choices=["pandas", "spark"],
                       help="read billing files with this engine instead of the config's engine (docs/engines.md)")
    for c in (r, d):
        c.add_argument("--workers", type=_workers, metavar="N|auto",
                       help="worker processes reading billing and telemetry files beside this one, instead of the "
                            "config's workers (0: none; docs/engines.md)")
    s = sub.add_parser("schema", help="print (or write) the config's JSON Schema")
    s.add_argument("--write", metavar="PATH", help="write the schema to PATH instead of printing it")
    return p


def _workers(text: str):
    if text == "auto":
        return text
    if text.isdigit() and int(text) <= 64:
        return int(text)
    raise argparse.ArgumentTypeError(f"'{text}' is not a number of workers (0 to 64) or 'auto'")


def _with_overrides(cfg, args):
    """The config with ``--engine`` and ``--workers`` (when given) in place of the config's."""
    update = {k: getattr(args, k, None) for k in ("engine", "workers")}
    update = {k: v for k, v in update.items() if v is not None}
    return cfg.model_copy(update=update) if update else cfg


def _run(config_path: Path, args) -> int:
    from pipeline.config import load_config
    from pipeline.run import run

    cfg = _with_overrides(load_config(config_path, period=getattr(args, "period", None)), args)
    result = run(cfg, Path(args.out), force=args.force, copy_inputs=args.copy_inputs,
                 previous=Path(args.previous) if args.previous else None)
    s = result.summary
    if result.unchanged:
        print(f"unchanged: {result.out_dir} already holds run {s['run']['id']} (same config, code, factors and "
              "inputs); nothing was written. Use --force to rebuild.")
    e = s["emissions_tco2e"]
    print(f"{s['entity']} - {s['period']['label']} ({s['period']['start']} to {s['period']['end']}, end inclusive)")
    print(f"  Scope 2 location-based  {e['scope2_location_based']:12.3f} tCO2e")
    print(f"  Scope 2 market-based    {e['scope2_market_based']:12.3f} tCO2e")
    print(f"  Scope 3 total           {e['scope3_total']:12.3f} tCO2e")
    print(f"  Total (location-based)  {e['total_location_based']:12.3f} tCO2e")
    print(f"  Total (market-based)    {e['total_market_based']:12.3f} tCO2e")
    print(f"  Energy, own operations  {s['energy_mwh']['total_own_operations']:12.3f} MWh")
    q = sum(i["rows_quarantined"] for i in s["inputs"])
    if q:
        print(f"  {q} input row(s) quarantined: see {result.out_dir / 'quarantine'}")
    print(f"PDF:     {result.pdf}")
    print(f"XLSX:    {result.xlsx}")
    print(f"Summary: {result.out_dir / 'summary.json'}")
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    configure(args.log_format, args.quiet)
    try:
        if args.command == "schema":
            from pipeline.config import json_schema

            text = json.dumps(json_schema(), indent=2, sort_keys=True) + "\n"
            if args.write:
                Path(args.write).write_text(text, encoding="utf-8")
            else:
                sys.stdout.write(text)
            return EXIT_OK
        if args.command == "init":
            from pipeline.init_config import scan, summary_text, write_config

            found = scan(Path(args.dir))
            print(summary_text(found))
            out = write_config(Path(args.dir), found, Path(args.out), force=args.force)
            print(f"wrote {out}: answer every '# QUESTION:' line, then run `carbon-disclosure validate {out}`")
            return EXIT_OK
        if args.command == "verify":
            from pipeline.verify import render as render_verify
            from pipeline.verify import verify_pack

            result = verify_pack(Path(args.pack))
            print(render_verify(result))
            return EXIT_OK if result.ok else EXIT_VALIDATION_FAILED
        if args.command == "validate":
            from pipeline.check_inputs import check_inputs, render
            from pipeline.config import load_config

            cfg = _with_overrides(load_config(Path(args.config)), args)
            print(render(check_inputs(cfg, Path(args.out) if args.out else None)))
            return EXIT_OK
        if args.command == "demo":
            return _run(DEMO_CONFIG, args)
        return _run(Path(args.config), args)
    except DisclosureError as exc:
        kind = type(exc).__name__
        if args.log_format == "json":
            log_event("error", level="error", error=kind, message=exc.render(), exit_code=exc.exit_code)
        else:
            print(f"error ({kind}): {exc.render()}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted; no output was moved into place", file=sys.stderr)
        return EXIT_INTERNAL
    except Exception:  # a bug: say so, keep the details for the report
        print("internal error: this is a bug in carbon-disclosure, not in your inputs. Please report it with "
              "the details below.", file=sys.stderr)
        traceback.print_exc(file=sys.stderr)
        return EXIT_INTERNAL


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
