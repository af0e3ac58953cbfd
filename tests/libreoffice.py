"""Recalculate a workbook in a real spreadsheet engine (LibreOffice headless) for the tests."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest


def recalculate(path: Path, tmp_path: Path) -> Path:
    """Open ``path`` in LibreOffice, recalculate every formula and save a copy with cached values."""
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if soffice is None:
        if os.environ.get("CI"):
            pytest.fail("LibreOffice (soffice) is missing in CI: `make test` installs it (system-deps)")
        pytest.skip("LibreOffice (soffice) is not on PATH: cannot recalculate the workbook")
    out = tmp_path / "recalculated"
    out.mkdir(exist_ok=True)
    profile = tmp_path / f"lo-profile-{os.getpid()}"
    proc = subprocess.run(
        [soffice, f"-env:UserInstallation={profile.as_uri()}", "--headless", "--calc",
         "--convert-to", "xlsx", "--outdir", str(out), str(path)],
        capture_output=True, text=True, timeout=300)
    converted = out / path.name
    assert proc.returncode == 0 and converted.exists(), proc.stdout + proc.stderr
    return converted
