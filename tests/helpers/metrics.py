"""Read a Prometheus text page the way an operator's curl would."""

from __future__ import annotations

import re

import requests


def metric_total(base_url: str, name: str) -> float:
    """The sum of every sample of ``name`` (all label sets); 0 when absent or unreachable."""
    try:
        text = requests.get(f"{base_url}/metrics", timeout=5).text
    except requests.ConnectionError:
        return 0.0
    pattern = rf"^{re.escape(name)}(?:\{{[^}}]*\}})? (\S+)$"
    return sum(float(value) for value in re.findall(pattern, text, re.M))
