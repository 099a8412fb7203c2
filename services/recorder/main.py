"""Entrypoint of the recorder service."""

from __future__ import annotations

import logging
import threading

from pymongo.database import Database

from services.common.bus.base import Communicator
from services.common.bus.topology import SIGHTINGS
from services.common.runtime import configure_logging, connect_bus, run_worker
from services.common.storage.attendance import AttendanceRepository
from services.common.storage.employees import EmployeeRepository
from services.common.storage.mongo import connect
from services.common.storage.mongo import is_reachable as _mongo_ok
from services.common.storage.sightings import SightingLog
from services.common.storage.spoof_attempts import SpoofAttemptLog
from services.recorder.service import Recorder
from services.recorder.settings import RecorderSettings

logger = logging.getLogger(__name__)
RETENTION_INTERVAL_S = 3600


def build(settings: RecorderSettings, bus: Communicator, db: Database) -> Recorder:
    employees = EmployeeRepository(db)
    return Recorder(
        bus,
        employees,
        AttendanceRepository(db),
        SightingLog(db, employees.pictures),
        settings,
        spoof_attempts=SpoofAttemptLog(db, employees.pictures),
    )


def run_retention(recorder: Recorder, stopping: threading.Event) -> None:
    while not stopping.wait(RETENTION_INTERVAL_S):
        try:
            recorder.purge_expired()
        except Exception:
            logger.exception("retention pass failed; will try again")


def main(settings: RecorderSettings | None = None) -> int:
    settings = settings or RecorderSettings.from_env()
    configure_logging(settings.log_level, settings.log_json)
    db = connect(settings.mongo_url, settings.mongo_db)
    bus = connect_bus(settings)
    recorder = build(settings, bus, db)
    recorder.start()
    stopping = threading.Event()
    threading.Thread(target=run_retention, args=(recorder, stopping), daemon=True).start()
    return run_worker(settings, bus, SIGHTINGS, lambda: _mongo_ok(db), on_stop=stopping.set)
