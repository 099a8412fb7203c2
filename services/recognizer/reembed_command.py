"""``attendance reembed``: the command line of :mod:`services.recognizer.reembed`.

The models and the database are imported only when the command runs, so that ``--help`` of
every command stays fast.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import socket
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from services.common.storage.employees import EmployeeRepository
    from services.recognizer.reembed import ProgressBar, ReembedReport
    from services.recognizer.settings import RecognizerSettings

logger = logging.getLogger(__name__)

DEFAULT_BATCH = 16

DESCRIPTION = (
    "Compute every stored enrolment photo's embedding again with the recipe this version "
    "runs (network weights, alignment, preprocessing: the model id), after an upgrade that "
    "changed it. Old vectors are kept, so recognizers still on the old recipe keep working "
    "until they are replaced; recognizers only ever compare vectors of their own recipe. "
    "Safe to interrupt and run again (it resumes); one run at a time. Photos in which no face "
    "is found again are listed, and the command then exits with status 1."
)
NEEDS = "MongoDB, Redis (to tell the recognizers); the model files"
EXAMPLE = "attendance reembed --dry-run\nattendance reembed --json > reembed.json"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--dry-run", action="store_true", help="only say how many photos are owed, per recipe"
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        default=DEFAULT_BATCH,
        help=f"photos per network batch (default {DEFAULT_BATCH})",
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")


def run_from_args(args: argparse.Namespace) -> int:
    from services.common.runtime import configure_logging
    from services.common.storage.employees import EmployeeRepository
    from services.common.storage.maintenance import MaintenanceBusy, MaintenanceLocks
    from services.common.storage.mongo import connect
    from services.faces.factory import build_finder
    from services.recognizer.main import build_embedder
    from services.recognizer.reembed import Reembedder
    from services.recognizer.settings import RecognizerSettings

    settings = RecognizerSettings.from_env()
    configure_logging(settings.log_level, settings.log_json)
    if args.batch_size < 1:
        sys.stderr.write("attendance reembed: --batch-size must be at least 1\n")
        return 2
    db = connect(settings.mongo_url, settings.mongo_db)
    employees = EmployeeRepository(db)
    reembedder = Reembedder(
        employees,
        build_finder(settings),
        build_embedder(settings),
        MaintenanceLocks(db),
        holder=f"{socket.gethostname()}:{os.getpid()}",
        batch_size=args.batch_size,
    )
    if args.dry_run:
        owed = reembedder.owed()
        summary = {
            "model_id": reembedder.model_id,
            "photos_owed": len(owed),
            "employees_owed": len({employee for _, employee in owed}),
            "embeddings_by_model": employees.embedding_models(),
        }
        sys.stdout.write(json.dumps(summary, indent=None if args.json else 2) + "\n")
        return 0
    try:
        report = reembedder.run(progress=_progress_bar if sys.stderr.isatty() else None)
    except MaintenanceBusy as exc:
        sys.stderr.write(f"attendance reembed: {exc}\n")
        return 1
    _tell_recognizers(settings, employees, reembedder.model_id)
    _print(report, as_json=args.json)
    return 1 if report.failed else 0


def _progress_bar(total: int) -> ProgressBar:
    from tqdm import tqdm

    return tqdm(total=total, desc="re-embedding", unit="photo")


def _tell_recognizers(
    settings: RecognizerSettings, employees: EmployeeRepository, model_id: str
) -> None:
    """Rebuild the recipe's cached gallery, so its running recognizers load the new vectors."""
    import redis

    from services.common.cache import RedisCache
    from services.common.gallery import Gallery

    try:
        cache = RedisCache(settings.redis_url, settings.attendance_bus_prefix)
        Gallery(cache, employees, model_id).changed()
    except redis.RedisError as exc:
        logger.warning(
            "the vectors are stored, but the gallery cache could not be rebuilt (%s): "
            "recognizers of this recipe load them when they start",
            exc,
        )


def _print(report: ReembedReport, *, as_json: bool) -> None:
    if as_json:
        sys.stdout.write(json.dumps(report.as_dict()) + "\n")
        return
    lines = [
        f"recipe {report.model_id}: {report.embedded} photo(s) embedded in "
        f"{report.seconds:.1f}s ({report.passes} pass(es))",
        "embeddings stored per recipe: "
        + ", ".join(f"{model} {count}" for model, count in report.embeddings_by_model.items()),
    ]
    for photo_id, reason in sorted(report.failed.items()):
        lines.append(f"not embedded: {photo_id}: {reason} (enrol this person again)")
    sys.stdout.write("\n".join(lines) + "\n")
