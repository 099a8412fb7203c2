"""Timesheets a manager opens in a spreadsheet: CSV (days, or the per-person summary) and XLSX
(both sheets in one workbook). Times are local to the site, whose zone every row names."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.cell import Cell
from openpyxl.styles import Font
from openpyxl.worksheet.worksheet import Worksheet

from services.common.workday import format_hours
from services.web.period import Period, PeriodRow, PersonSummary
from services.web.queries import csv_safe

DAY_COLUMNS = (
    "date",
    "employee_id",
    "employee_name",
    "status",
    "record_id",
    "arrival_time",
    "arrival_camera",
    "departure_time",
    "departure_camera",
    "hours",
    "late_minutes",
    "corrected",
    "correction_reason",
    "time_zone",
)
SUMMARY_COLUMNS = (
    "employee_id",
    "employee_name",
    "from",
    "to",
    "days_present",
    "late_arrivals",
    "absences",
    "leave_days",
    "remote_days",
    "hours",
    "hours_decimal",
    "corrected_days",
    "time_zone",
)
XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _local(moment: datetime | None, zone: ZoneInfo) -> datetime | None:
    return moment.astimezone(zone) if moment is not None else None


def _day_values(row: PeriodRow, zone: ZoneInfo, zone_name: str) -> list:
    facts = row.facts
    late = int(facts.late_by.total_seconds() // 60) if facts.late_by is not None else None
    correction = facts.correction
    return [
        row.day,
        row.employee_id,
        row.employee_name,
        row.status,
        row.record_id or "",
        _local(facts.arrival, zone),
        row.arrival_camera or "",
        _local(facts.departure, zone),
        row.departure_camera or "",
        facts.hours,
        late,
        "yes" if correction is not None else "no",
        correction.reason if correction is not None else "",
        zone_name,
    ]


def _summary_values(summary: PersonSummary, period: Period, zone_name: str) -> list:
    t = summary.totals
    return [
        summary.employee_id,
        summary.employee_name,
        period.first,
        period.last,
        t.days_present,
        t.late_arrivals,
        t.absences,
        t.leave_days,
        t.remote_days,
        t.hours,
        t.hours_decimal,
        t.corrected_days,
        zone_name,
    ]


def _csv_cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    if hasattr(value, "total_seconds"):
        return format_hours(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    # Every text cell, not only the name: ids, reasons and camera names come from outside too.
    return csv_safe(str(value))


def _csv(header: tuple[str, ...], rows: list[list]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    for values in rows:
        writer.writerow([_csv_cell(value) for value in values])
    return buffer.getvalue()


def days_csv(period: Period, zone: ZoneInfo, zone_name: str) -> str:
    """One row per person per day; times ISO 8601 with the site's offset, hours as H:MM."""
    return _csv(DAY_COLUMNS, [_day_values(row, zone, zone_name) for row in period.rows])


def summary_csv(period: Period, zone_name: str) -> str:
    return _csv(SUMMARY_COLUMNS, [_summary_values(s, period, zone_name) for s in period.summaries])


def _xlsx_cell(sheet: Worksheet, value) -> Cell | object:
    cell = Cell(sheet)
    if isinstance(value, datetime):
        # Spreadsheets have no time zones: the local wall time, with the zone in its own column.
        cell.value = value.replace(tzinfo=None)
        cell.number_format = "yyyy-mm-dd hh:mm"
    elif hasattr(value, "total_seconds"):
        cell.value = value
        cell.number_format = "[h]:mm"
    elif hasattr(value, "isoformat"):
        cell.value = value
        cell.number_format = "yyyy-mm-dd"
    elif isinstance(value, str):
        # Set as text explicitly: a name like "=cmd()" must never become a formula.
        cell.value = value
        cell.data_type = "s"
    else:
        cell.value = value
    return cell


def _sheet(sheet: Worksheet, header: tuple[str, ...], rows: list[list]) -> None:
    sheet.append(header)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for values in rows:
        sheet.append([_xlsx_cell(sheet, value) for value in values])
    sheet.freeze_panes = "A2"
    for column in sheet.columns:
        letter = column[0].column_letter
        sheet.column_dimensions[letter].width = max(10, min(40, len(str(column[0].value)) + 4))


def workbook(period: Period, zone: ZoneInfo, zone_name: str) -> bytes:
    """The period as an XLSX workbook: a Days sheet and a Summary sheet."""
    book = Workbook()
    days = book.active
    days.title = "Days"
    _sheet(days, DAY_COLUMNS, [_day_values(row, zone, zone_name) for row in period.rows])
    summary = book.create_sheet("Summary")
    _sheet(
        summary,
        SUMMARY_COLUMNS,
        [_summary_values(s, period, zone_name) for s in period.summaries],
    )
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
