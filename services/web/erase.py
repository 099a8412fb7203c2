"""Deleting an employee completely: every trace in MongoDB and the recognizers' cache."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

from services.common.cache import KeyValueCache
from services.common.gallery import Gallery
from services.common.storage.attendance import AttendanceRepository
from services.common.storage.employees import EmployeeRepository
from services.common.storage.sightings import SightingLog
from services.common.storage.spoof_attempts import SpoofAttemptLog

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ErasureReport:
    employee_deleted: bool
    attendance_records: int
    sightings: int
    pictures: int
    # Spoof attempts whose face resembled the employee (they name them, with their pictures).
    spoof_attempts: int = 0


def erase_employee(
    employee_id: str,
    *,
    employees: EmployeeRepository,
    attendance: AttendanceRepository,
    sightings: SightingLog,
    spoof_attempts: SpoofAttemptLog,
    cache: KeyValueCache,
    model_ids: Iterable[str] = (),
) -> ErasureReport:
    """Remove the employee, embeddings, pictures, attendance, sightings and the spoof attempts
    that resembled them; refresh galleries.

    The employee document goes first so that, should a later step fail, recognizers stop
    matching the person at the next gallery reload and a retry finishes the job.
    """
    # Every model that has embeddings may have a cached gallery containing this person.
    models = set(employees.embedding_models()) | set(model_ids)
    deleted = employees.delete(employee_id)
    records = attendance.delete_for_employee(employee_id)
    logged = sightings.delete_for_employee(employee_id)
    # Their pictures are owned by the attempts log, not the employee: removed with them here.
    attempts = spoof_attempts.delete_for_employee(employee_id)
    # Sighting and attendance pictures are owned by the employee id (enrolment ones too).
    pictures = employees.pictures.delete_owned_by(employee_id)
    for model_id in sorted(models):
        Gallery(cache, employees, model_id).changed()
    logger.info(
        "erased employee %s: %d records, %d sightings, %d pictures, %d spoof attempts",
        employee_id,
        records,
        logged,
        pictures,
        attempts,
    )
    return ErasureReport(deleted, records, logged, pictures, attempts)
