"""The hash-pinned lock files agree with pyproject.toml: every pinned dependency is locked at
its version, and every locked package carries hashes (deploy/lock.sh remakes them)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
REQUIREMENT = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)")


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def locked(name: str) -> dict[str, tuple[str, list[str]]]:
    """Package -> (version, hashes) of one lock file."""
    entries: dict[str, tuple[str, list[str]]] = {}
    current = None
    for line in (DEPLOY / name).read_text().splitlines():
        match = REQUIREMENT.match(line)
        if match:
            current = _normal(match.group(1))
            entries[current] = (match.group(2), [])
        elif current and "--hash=sha256:" in line:
            entries[current][1].append(line.split("--hash=sha256:")[1].split()[0])
    return entries


def pins(*groups: str) -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    found = {}
    for group in groups:
        requirements = (
            project["dependencies"]
            if group == "runtime"
            else project["optional-dependencies"][group]
        )
        for requirement in requirements:
            name, version = requirement.split("==")
            found[_normal(name)] = version
    return found


@pytest.mark.parametrize(
    ("lock", "groups"),
    [("requirements.lock", ("runtime",)), ("requirements-dev.lock", ("runtime", "dev"))],
)
def test_every_dependency_of_pyproject_is_locked_at_its_pinned_version(lock, groups):
    entries = locked(lock)
    for name, version in pins(*groups).items():
        assert name in entries, f"{name} is not in deploy/{lock}: run deploy/lock.sh"
        assert entries[name][0] == version, f"{name}: {entries[name][0]} locked, {version} pinned"


@pytest.mark.parametrize(
    "lock", ["requirements.lock", "requirements-dev.lock", "requirements-nodeps.lock"]
)
def test_every_locked_package_carries_sha256_hashes(lock):
    entries = locked(lock)
    assert entries
    for name, (_version, hashes) in entries.items():
        assert hashes, f"{name} has no hash in deploy/{lock}"
        assert all(re.fullmatch(r"[0-9a-f]{64}", value) for value in hashes), name


def test_torch_is_left_to_the_install_script_and_its_dependencies_are_locked():
    entries = locked("requirements.lock")
    assert "torch" not in entries and "torchvision" not in entries
    wanted = {
        _normal(line.split(">=")[0].strip())
        for line in (DEPLOY / "torch-deps.in").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert wanted <= set(entries)
    assert set(locked("requirements-nodeps.lock")) == {"mediapipe", "facenet-pytorch"}
