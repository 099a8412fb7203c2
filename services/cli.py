"""The ``attendance`` command: one subcommand per service, plus enrolment, evaluation, models."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from services.common.settings import SettingsError

logger = logging.getLogger(__name__)


def _service(name: str):
    def run(args: argparse.Namespace) -> int:
        from importlib import import_module

        return import_module(f"services.{name}.main").main()

    return run


def _capture(args: argparse.Namespace) -> int:
    from services.capture.main import main
    from services.capture.settings import CaptureSettings

    overrides = {}
    if args.source:
        overrides["capture_source"] = args.source
    if args.camera_id:
        overrides["camera_id"] = args.camera_id
    if args.fps:
        overrides["capture_fps"] = args.fps
    return main(CaptureSettings.from_env(**overrides))


def _enroll(args: argparse.Namespace) -> int:
    from services.common.runtime import configure_logging
    from services.common.storage.audit import AuditLog
    from services.common.storage.mongo import connect
    from services.recognizer.enrolment import EnrolmentError
    from services.recognizer.main import build_stack, connect_cache
    from services.recognizer.settings import RecognizerSettings
    from services.web.account_commands import os_user

    settings = RecognizerSettings.from_env()
    configure_logging(settings.log_level, settings.log_json)
    photos = []
    for path in args.photos:
        try:
            photos.append(Path(path).read_bytes())
        except OSError as exc:
            sys.stderr.write(f"cannot read {path}: {exc.strerror}\n")
            return 2
    db = connect(settings.mongo_url, settings.mongo_db)
    stack = build_stack(settings, db, connect_cache(settings))
    try:
        employee = stack.enroller.enroll(
            args.name, photos, allow_duplicate_face=args.allow_duplicate_face
        )
    except EnrolmentError as exc:
        sys.stderr.write(f"enrolment refused ({exc.code}): {exc}\n")
        if exc.code == "face_already_enrolled":
            sys.stderr.write("(--allow-duplicate-face enrols it anyway, if that is intended)\n")
        return 1
    AuditLog(db).record(
        "employee.enrol",
        actor=f"cli:{os_user()}",
        target=employee.employee_id,
        details={
            "name": employee.name,
            "photos": len(photos),
            "allow_duplicate_face": args.allow_duplicate_face,
        },
    )
    sys.stdout.write(
        json.dumps(
            {
                "employee_id": employee.employee_id,
                "name": employee.name,
                "photos": len(employee.photo_ids),
            }
        )
        + "\n"
    )
    return 0


def _eval(args: argparse.Namespace) -> int:
    from services.recognizer.evaluation import main

    return main(args.rest)


def _models(args: argparse.Namespace) -> int:
    from services.common.model_files import check_models, download_models

    folder = Path(args.models_dir) if args.models_dir else None
    if args.action == "download":
        for path in download_models(folder):
            sys.stdout.write(f"ok {path}\n")
        return 0
    problems = 0
    for status in check_models(folder):
        sys.stdout.write(f"{status.state:<13} {status.path}  {status.detail}\n")
        problems += 0 if status.state == "ok" else 1
    return 1 if problems else 0


def _users(args: argparse.Namespace) -> int:
    from services.common.settings import CommonSettings
    from services.common.storage.mongo import DatabaseUnavailable, connect
    from services.web.account_commands import run

    settings = CommonSettings.from_env()
    try:
        db = connect(settings.mongo_url, settings.mongo_db, attempts=3)
    except DatabaseUnavailable as exc:
        sys.stderr.write(f"{exc}\n")
        return 1
    cache = None
    if args.users_action == "unlock":
        from services.common.cache import RedisCache

        # The web counts login attempts in Redis under the bus prefix.
        cache = RedisCache(settings.redis_url, settings.attendance_bus_prefix)
    return run(args, db, sys.stdin, sys.stdout, sys.stderr, cache=cache)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="attendance",
        description="Face-recognition attendance. Services read their settings from the "
        "environment (see README).",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    capture = commands.add_parser("capture", help="publish frames from a camera, file or stream")
    capture.add_argument("--source", help="camera index, video file, stream URL or folder")
    capture.add_argument("--camera-id")
    capture.add_argument("--fps", type=float)
    capture.set_defaults(run=_capture)
    for name, text in (
        ("detector", "find and align faces in frames"),
        ("recognizer", "embed faces, match them, publish sightings; serve enrolments"),
        ("recorder", "apply the attendance rules and store records"),
        ("web", "the dashboard and REST API"),
    ):
        commands.add_parser(name, help=text).set_defaults(run=_service(name))
    enroll = commands.add_parser("enroll", help="register an employee from photos")
    enroll.add_argument("--name", required=True)
    enroll.add_argument("photos", nargs="+", metavar="PHOTO")
    enroll.add_argument(
        "--allow-duplicate-face",
        action="store_true",
        help="enrol even a face that is already another employee's",
    )
    enroll.set_defaults(run=_enroll)
    evaluate = commands.add_parser(
        "eval", help="measure accuracy on a labelled photo set", add_help=False
    )
    evaluate.add_argument("rest", nargs=argparse.REMAINDER)
    evaluate.set_defaults(run=_eval)
    models = commands.add_parser("models", help="check or download the model files")
    models.add_argument("action", choices=["check", "download"])
    models.add_argument("--models-dir")
    models.set_defaults(run=_models)
    from services.web.account_commands import add_arguments as add_users_arguments

    users = commands.add_parser(
        "users",
        help="web accounts: list, add, set-password, set-role, remove, unlock (MONGO_URL)",
    )
    add_users_arguments(users)
    users.set_defaults(run=_users)
    from services.allinone import add_arguments, run_from_args

    run = commands.add_parser("run", help="every service in one process (no servers needed)")
    add_arguments(run)
    run.set_defaults(run=run_from_args)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["eval"]:
        # argparse's REMAINDER cannot pass on options (--manifest ...) as the first words, so
        # the evaluation's own parser takes them directly.
        return _eval(argparse.Namespace(rest=argv[1:]))
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except SettingsError as exc:
        sys.stderr.write(f"configuration error: {exc}\n")
        return 2


if __name__ == "__main__":
    sys.exit(main())
