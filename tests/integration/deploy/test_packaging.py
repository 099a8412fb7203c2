"""The package as the Docker image installs it (a wheel, not the source tree) is complete."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]


def test_the_wheel_carries_every_page_and_asset_of_the_dashboard(tmp_path):
    # A copy of the sources: a build in the checkout would reuse its stale egg-info and build/.
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    shutil.copytree(
        ROOT / "services", source / "services", ignore=shutil.ignore_patterns("__pycache__")
    )
    wheels = tmp_path / "wheels"
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "-q", "-w", str(wheels)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    (wheel,) = wheels.glob("*.whl")
    packed = set(zipfile.ZipFile(wheel).namelist())
    web = ROOT / "services" / "web"
    needed = {
        path.relative_to(ROOT).as_posix()
        for folder in ("templates", "static")
        for path in (web / folder).rglob("*")
        if path.is_file()
    }
    assert needed, "the dashboard has no templates or assets to check"
    assert needed <= packed, f"missing from the wheel: {sorted(needed - packed)}"
    assert "services/cli.py" in packed
