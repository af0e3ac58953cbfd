"""Vector charts for the PDF, drawn from summary.json only (so a chart can never disagree with the tables).

Charts are SVG text, deterministic for the same input: fixed hash salt for element ids, no date metadata,
text kept as text (``svg.fonttype = none``) so it stays searchable and sharp in the PDF.
Colours step in lightness and every series also has its own hatch, so the chart still reads in greyscale.
"""

from __future__ import annotations

import io
import re

import matplotlib

matplotlib.use("svg")

from matplotlib.backends.backend_svg import FigureCanvasSVG  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from pipeline.report.summary import PHASE_KEYS  # noqa: E402

PHASE_LABELS = {
    "training": "Training",
    "fine_tuning": "Fine-tuning",
    "inference": "Inference",
    "evaluation": "Evaluation",
    "unallocated": "Unallocated",
}

# (face colour, hatch, hatch colour): lightness falls from dark to light; hatches tell neighbours apart
# in greyscale and for readers who cannot tell the hues apart.
_STYLE = {
    "training": ("#0b2e59", "", "#ffffff"),
    "fine_tuning": ("#2f6db5", "////", "#ffffff"),
    "inference": ("#7fb0dc", "|||", "#0b2e59"),
    "evaluation": ("#c9def0", "xxx", "#2f4f6f"),
    "unallocated": ("#f4f4f4", "\\\\\\", "#555555"),
}

_RC = {
    "svg.hashsalt": "carbon-disclosure",
    "svg.fonttype": "none",
    "font.family": "sans-serif",
    "font.sans-serif": ["Liberation Sans", "DejaVu Sans"],
    "font.size": 8.5,
    "hatch.linewidth": 0.6,
}


def monthly_phase_chart_svg(summary: dict, id_prefix: str = "monthly") -> str:
    """Stacked bars: location-based tCO2e per month (``summary["by_month_phase_tco2e"]``) by phase.

    Returns an ``<svg>`` element (no XML prolog) for inlining into HTML.
    """
    by_month: dict[str, dict[str, float]] = summary.get("by_month_phase_tco2e", {}) or {}
    months = list(by_month)
    with matplotlib.rc_context(_RC):
        fig = Figure(figsize=(6.6, 3.0))
        FigureCanvasSVG(fig)
        ax = fig.add_axes((0.09, 0.14, 0.68, 0.80))
        x = list(range(len(months)))
        bottoms = [0.0] * len(months)
        handles = []
        for phase in PHASE_KEYS:
            values = [float(by_month[m].get(phase, 0.0) or 0.0) for m in months]
            face, hatch, hcolour = _STYLE[phase]
            bars = ax.bar(x, values, width=0.6, bottom=bottoms, color=face, hatch=hatch or None,
                          edgecolor="#222222", linewidth=0.5, label=PHASE_LABELS[phase], zorder=2)
            for patch in bars:
                patch.set_hatchcolor(hcolour)
            handles.append(bars)
            bottoms = [b + v for b, v in zip(bottoms, values)]
        top = max(bottoms, default=0.0)
        ax.set_ylim(0, top * 1.12 if top > 0 else 1.0)
        ax.set_xlim(-0.6, max(len(months) - 0.4, 0.6))
        ax.set_xticks(x, months)
        ax.yaxis.set_major_locator(MaxNLocator(nbins=6))
        ax.set_ylabel("tCO2e (location-based)")
        ax.grid(axis="y", color="#bbbbbb", linewidth=0.4, zorder=0)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        if not months:
            ax.text(0.5, 0.5, "No months in the reporting period", transform=ax.transAxes,
                    ha="center", va="center")
        # legend top-to-bottom in the same order as the stack (top of the stack first)
        ax.legend(handles[::-1], [PHASE_LABELS[p] for p in PHASE_KEYS][::-1], loc="upper left",
                  bbox_to_anchor=(1.02, 1.0), frameon=False, handlelength=2.2, handleheight=1.4)
        buf = io.StringIO()
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
    return _inline_form(buf.getvalue(), id_prefix)


_STYLE_ATTR = re.compile(r'\sstyle="([^"]*)"')


def _as_attributes(match: re.Match) -> str:
    pairs = [d.split(":", 1) for d in match.group(1).split(";") if ":" in d]
    return "".join(f' {k.strip()}="{v.strip()}"' for k, v in pairs)


def _inline_form(svg: str, id_prefix: str) -> str:
    """SVG for inlining into HTML: no XML prolog, doctype, comments, metadata or <style> element, and style
    attributes turned into presentation attributes (WeasyPrint's HTML cascade would otherwise warn about
    every SVG-only property it sees in a style attribute). Element ids get ``id_prefix`` so several charts in
    one document never share an id (matplotlib numbers them from 1 in every figure)."""
    svg = re.sub(r'\bid="([^"]+)"', lambda m: f'id="{id_prefix}-{m.group(1)}"', svg)
    svg = re.sub(r'url\(#([^)]+)\)', lambda m: f'url(#{id_prefix}-{m.group(1)})', svg)
    svg = re.sub(r'href="#([^"]+)"', lambda m: f'href="#{id_prefix}-{m.group(1)}"', svg)
    svg = re.sub(r"^.*?(?=<svg\b)", "", svg, flags=re.S)
    svg = re.sub(r"<!--.*?-->", "", svg, flags=re.S)
    svg = re.sub(r"\s*<metadata>.*?</metadata>", "", svg, flags=re.S)
    svg = re.sub(r"\s*<style\b[^>]*>.*?</style>", "", svg, flags=re.S)  # *{stroke-linejoin: round; ...}
    svg = re.sub(r"<svg\b", '<svg stroke-linejoin="round" stroke-linecap="butt"', svg, count=1)
    svg = _STYLE_ATTR.sub(_as_attributes, svg)
    svg = re.sub(r"\s*<defs>\s*</defs>", "", svg)
    return svg.strip()


# line styles per scenario kind: told apart by dash pattern and marker, not only by colour
_SCENARIO_STYLE = {
    "baseline": ("#0b2e59", "-", "o"),
    "rag": ("#5a5a5a", "--", "s"),
    "fine_tuned": ("#2f6db5", ":", "^"),
}


def projection_chart_svg(model: dict, months: list[str], id_prefix: str = "projection") -> str:
    """One chart per model: this period's measured training emissions per month (bars, the spike), continued
    by the projected cumulative emissions of each scenario (lines), with the break-even against the baseline
    marked. ``model``: one ``summary["projections"]["models"]`` entry; ``months``: the reporting months."""
    training = model.get("training_by_month_kg_co2e", {}) or {}
    scen = model.get("scenarios", []) or []
    horizon = max((len(s.get("cumulative_kg_co2e") or []) for s in scen), default=0)
    proj_labels = (scen[0].get("months") if scen else None) or [f"M{i + 1}" for i in range(horizon)]
    n_actual = len(months)
    with matplotlib.rc_context(_RC):
        fig = Figure(figsize=(6.6, 3.9))
        FigureCanvasSVG(fig)
        ax = fig.add_axes((0.09, 0.34, 0.88, 0.62))
        face, hatch, hcolour = _STYLE["fine_tuning"]
        bars = ax.bar(range(n_actual), [training.get(m, 0.0) / 1000.0 for m in months], width=0.6, color=face,
                      hatch=hatch, edgecolor="#222222", linewidth=0.5, zorder=2,
                      label="Measured fine-tuning (this period)")
        for patch in bars:
            patch.set_hatchcolor(hcolour)
        x0 = n_actual + 0.5
        xs = [x0 + i for i in range(horizon)]
        for s in scen:
            colour, dash, marker = _SCENARIO_STYLE.get(s.get("kind"), ("#000000", "-", None))
            ys = [float(v) / 1000.0 for v in (s.get("cumulative_kg_co2e") or [])]
            ax.plot(xs[:len(ys)], ys, color=colour, linestyle=dash, linewidth=1.4, marker=marker,
                    markevery=max(1, horizon // 8), markersize=3.5, zorder=3,
                    label=_plain_text(f"{s.get('scenario_label') or s.get('scenario_id')} (projection)"))
        be = next((c for c in model.get("comparisons", []) if c.get("comparator_kind") == "baseline"), None)
        if be and be.get("break_even_month_index") is not None:
            xb = x0 + float(be.get("break_even_months_elapsed") or be["break_even_month_index"]) - 1
            ax.axvline(xb, color="#222222", linestyle="-.", linewidth=0.8, zorder=1)
            ax.annotate(f"break-even vs baseline\n{be.get('break_even_month') or ''}", xy=(xb, 0), xytext=(4, 6),
                        textcoords="offset points", fontsize=7, rotation=90, va="bottom")
        ax.axvline(n_actual - 0.25, color="#999999", linewidth=0.6, zorder=1)
        step = max(1, horizon // 6)
        ticks = list(range(n_actual)) + xs[step::step]
        labels = list(months) + list(proj_labels)[step::step]
        ax.set_xticks(ticks, labels, rotation=45, ha="right", fontsize=6.5)
        ax.set_xlim(-0.6, (xs[-1] if xs else n_actual) + 0.6)
        ax.set_ylabel("tCO2e (bars: per month; lines: cumulative)")
        ax.yaxis.set_major_locator(MaxNLocator(nbins=6))
        ax.grid(axis="y", color="#bbbbbb", linewidth=0.4, zorder=0)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2, frameon=False, fontsize=7, handlelength=2.6)
        buf = io.StringIO()
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
    return _inline_form(buf.getvalue(), id_prefix)


def _plain_text(text: str) -> str:
    """User text shown as typed: '$' would otherwise start matplotlib mathtext."""
    return str(text).replace("$", r"\$")
