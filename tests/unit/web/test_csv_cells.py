"""Timesheet cells can never run as spreadsheet formulas (issue 10, item 15)."""

from __future__ import annotations

import pytest

from services.web.queries import csv_safe

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("cell", "safe"),
    [
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("+1", "'+1"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("Ana;=cmd|' /C calc'!A0", "Ana;'=cmd|' /C calc'!A0"),
        ("Ana, +1", "Ana, '+1"),
        ("a,b;c", "a,b;c"),
        ("Ana Lopez", "Ana Lopez"),
        ("2026-11-30T09:00:00+01:00", "2026-11-30T09:00:00+01:00"),
        ("", ""),
    ],
)
def test_a_cell_that_a_spreadsheet_would_run_is_made_text(cell, safe):
    assert csv_safe(cell) == safe


def test_neutralising_twice_changes_nothing_more():
    once = csv_safe("=1;=2")
    assert csv_safe(once) == once
