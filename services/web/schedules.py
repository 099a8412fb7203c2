"""The work calendar: the site's schedule (settings), employees' own schedules and holidays,
both edited by admins on the Schedule page and stored in MongoDB."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, time, timedelta

from pymongo.database import Database

from services.common.storage.attendance import SCHEDULE_OVERRIDES
from services.common.workday import Schedule


@dataclass(frozen=True)
class Holiday:
    day: date
    name: str


class WorkCalendar:
    def __init__(self, db: Database, site_schedule: Schedule) -> None:
        self._overrides = db[SCHEDULE_OVERRIDES]
        self._holidays = db.holidays
        self.site_schedule = site_schedule

    # -- schedules ---------------------------------------------------------------------------
    def own_schedules(self) -> dict[str, Schedule]:
        """Employees with a schedule of their own, by employee id."""
        return {document["_id"]: _to_schedule(document) for document in self._overrides.find()}

    def schedule_for(self, employee_id: str, own: dict[str, Schedule] | None = None) -> Schedule:
        if own is not None:
            return own.get(employee_id, self.site_schedule)
        document = self._overrides.find_one({"_id": employee_id})
        return _to_schedule(document) if document else self.site_schedule

    def set_own_schedule(self, employee_id: str, schedule: Schedule) -> None:
        self._overrides.replace_one(
            {"_id": employee_id},
            {
                "_id": employee_id,
                "working_days": sorted(schedule.working_days),
                "start": schedule.start.strftime("%H:%M"),
                "end": schedule.end.strftime("%H:%M"),
                "grace_minutes": int(schedule.grace.total_seconds() // 60),
            },
            upsert=True,
        )

    def remove_own_schedule(self, employee_id: str) -> bool:
        return self._overrides.delete_one({"_id": employee_id}).deleted_count == 1

    # -- holidays ----------------------------------------------------------------------------
    def holidays_between(self, first: date, last: date) -> dict[date, str]:
        cursor = self._holidays.find({"_id": {"$gte": first.isoformat(), "$lte": last.isoformat()}})
        return {date.fromisoformat(d["_id"]): d["name"] for d in cursor}

    def holidays(self) -> list[Holiday]:
        cursor = self._holidays.find().sort("_id", 1)
        return [Holiday(date.fromisoformat(d["_id"]), d["name"]) for d in cursor]

    def add_holiday(self, day: date, name: str) -> None:
        key = day.isoformat()
        self._holidays.replace_one({"_id": key}, {"_id": key, "name": name}, upsert=True)

    def remove_holiday(self, day: date) -> bool:
        return self._holidays.delete_one({"_id": day.isoformat()}).deleted_count == 1


def _to_schedule(document: dict) -> Schedule:
    return Schedule(
        frozenset(document["working_days"]),
        time.fromisoformat(document["start"]),
        time.fromisoformat(document["end"]),
        timedelta(minutes=document["grace_minutes"]),
    )
