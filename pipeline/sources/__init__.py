"""One adapter per input format. Each turns one file into a canonical frame (``pipeline/canonical.py``).

Every adapter module has:
    KIND          the config ``kind`` (e.g. "focus", "aws_cur")
    FAMILY        which canonical frame it produces: "usage" (billing), "job", "meter", "provider_carbon"
    REQUIRED      raw header columns that must exist (checked by the ``<KIND>.header`` GE suite; missing -> exit 1)
    sniff(columns) -> bool          does a header look like this format (``kind: auto``); line-oriented formats
                                    that read any file also define sniff_raw(raw) -> bool, which looks at content
    read_raw(path) -> RawTable      all cells as text with 1-based source rows; unreadable file -> InputError
    to_canonical(raw, *, source_label, ...) -> Parsed
Parsed.frame is indexed like raw.frame (rows dropped by design are listed in ``Parsed.folded``);
Parsed.quarantine maps row index -> [(code, reason)] for rows the adapter itself rejects
(the GE ``<family>.rows`` suite then checks the canonical frame).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd


@dataclass
class Parsed:
    frame: pd.DataFrame
    quarantine: dict = field(default_factory=dict)   # raw index -> [(code, reason)]
    # raw index -> (index of the row it was merged into, note): read and accepted, counted once in that row;
    # if that row is quarantined, the merged rows follow it (ingest does this for every format)
    folded: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)
