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

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ErasureReport:
    employee_deleted: bool
    attendance_records: int
    sightings: int
    pictures: int


def erase_employee(
    employee_id: str,
    *,
    employees: EmployeeRepository,
    attendance: AttendanceRepository,
    sightings: SightingLog,
    cache: KeyValueCache,
    model_ids: Iterable[str] = (),
) -> ErasureReport:
    """Remove the employee, embeddings, pictures, attendance and sightings; refresh galleries.

    The employee document goes first so that, should a later step fail, recognizers stop
    matching the person at the next gallery reload and a retry finishes the job.
    """
    # Every model that has embeddings may have a cached gallery containing this person.
    models = set(employees.embedding_models()) | set(model_ids)
    deleted = employees.delete(employee_id)
    records = attendance.delete_for_employee(employee_id)
    logged = sightings.delete_for_employee(employee_id)
    # Sighting and attendance pictures are owned by the employee id (enrolment ones too).
    pictures = employees.pictures.delete_owned_by(employee_id)
    for model_id in sorted(models):
        Gallery(cache, employees, model_id).changed()
    logger.info(
        "erased employee %s: %d records, %d sightings, %d pictures",
        employee_id,
        records,
        logged,
        pictures,
    )
    return ErasureReport(deleted, records, logged, pictures)
