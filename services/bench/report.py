"""The bench's figures as a two-column table (JSON is ``json.dumps``)."""

from __future__ import annotations

from typing import Any


def _shown(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _rows(prefix: str, value: Any) -> list[tuple[str, str]]:
    if isinstance(value, dict):
        rows: list[tuple[str, str]] = []
        for key, inner in value.items():
            rows.extend(_rows(f"{prefix}.{key}" if prefix else str(key), inner))
        return rows
    if isinstance(value, list) and value and all(isinstance(item, dict) for item in value):
        rows = []
        for position, item in enumerate(value):
            rows.extend(_rows(f"{prefix}[{position}]", item))
        return rows
    return [(prefix, _shown(value))]


def table(figures: dict[str, Any]) -> str:
    """One line per figure, nested names joined with dots."""
    rows = _rows("", figures)
    width = max((len(name) for name, _ in rows), default=0)
    return "".join(f"{name:<{width}}  {value}\n" for name, value in rows)
