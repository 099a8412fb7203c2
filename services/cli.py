"""The ``attendance`` command: one subcommand per service, plus enrolment, evaluation, models,
accounts and API tokens.

Every mistake a person can make on the command line or in the environment ends the command
with one line on standard error and exit status 2, before anything slow (a model, a server)
is touched; ``--help`` of each subcommand lists the variables it reads, generated from the
settings classes.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

from services.common.settings import CommonSettings, SettingsError

logger = logging.getLogger(__name__)

USAGE_ERROR = 2
HELP_WIDTH = 100


class OneLineParser(argparse.ArgumentParser):
    """argparse, with a usage mistake said in one line (and where the help is), not the
    whole usage block."""

    def error(self, message: str) -> NoReturn:
        self.exit(USAGE_ERROR, f"{self.prog}: {message} (see {self.prog} --help)\n")


def _service(name: str):
    def run(args: argparse.Namespace) -> int:
        from importlib import import_module

        main = import_module(f"services.{name}.main").main
        if name == "web":
            # Reads and checks its settings itself.
            return main()
        settings = _SERVICE_SETTINGS[name]().from_env()
        if name == "recognizer":
            _ensure_model_files(settings)
        return main(settings)

    return run


def _ensure_model_files(settings) -> None:
    """Check first, load later: the model files these settings load are there (downloaded if
    missing), or the command stops with one line before it connects to anything."""
    from services.common.model_files import ensure_models
    from services.common.preflight import required_model_files

    ensure_models(required_model_files(settings), settings.attendance_models_dir)


def _capture(args: argparse.Namespace) -> int:
    from services.capture.main import main
    from services.capture.preflight import check_source
    from services.capture.settings import CaptureSettings

    overrides = {
        "capture_source": args.source,
        "camera_id": args.camera_id,
        "capture_fps": args.fps,
    }
    settings = CaptureSettings.from_env(
        given_as={"capture_source": "--source", "camera_id": "--camera-id", "capture_fps": "--fps"},
        **{name: value for name, value in overrides.items() if value is not None},
    )
    check_source(settings.capture_source, "--source" if args.source else "CAPTURE_SOURCE")
    return main(settings)


def _enroll(args: argparse.Namespace) -> int:
    from services.common.domain.enrolment import EnrolmentError
    from services.common.runtime import configure_logging
    from services.common.storage.audit import AuditLog
    from services.common.storage.mongo import connect
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
    from services.recognizer.evaluation_command import main

    return main(args.rest)


def _models(args: argparse.Namespace) -> int:
    from services.common.model_files import ModelDownloadError, check_models, download_models

    if args.action == "quantize":
        from services.recognizer.quantize_command import main as quantize_main

        return quantize_main(args)
    folder = Path(args.models_dir) if args.models_dir else None
    if args.action == "download":
        try:
            paths = download_models(folder)
        except ModelDownloadError as exc:
            sys.stderr.write(f"{exc}\n")
            return 1
        for path in paths:
            sys.stdout.write(f"ok {path}\n")
        return 0
    problems = 0
    for status in check_models(folder):
        sys.stdout.write(f"{status.state:<13} {status.path}  {status.detail}\n")
        problems += 0 if status.state == "ok" else 1
    return 1 if problems else 0


def _account_database():
    """The settings and the database of the web's accounts and tokens; None (said on stderr)
    when MongoDB cannot be reached."""
    from services.common.storage.mongo import DatabaseUnavailable, connect

    settings = CommonSettings.from_env()
    try:
        return settings, connect(settings.mongo_url, settings.mongo_db, attempts=3)
    except DatabaseUnavailable as exc:
        sys.stderr.write(f"{exc}\n")
        return None


def _tokens(args: argparse.Namespace) -> int:
    from services.web.token_commands import run

    opened = _account_database()
    if opened is None:
        return 1
    _, db = opened
    try:
        return run(args, db, sys.stdout, sys.stderr)
    finally:
        db.client.close()


def _users(args: argparse.Namespace) -> int:
    from services.web.account_commands import run

    opened = _account_database()
    if opened is None:
        return 1
    settings, db = opened
    cache = None
    if args.users_action == "unlock":
        from services.common.cache import RedisCache

        # The web counts login attempts in Redis under the bus prefix.
        cache = RedisCache(settings.redis_url, settings.attendance_bus_prefix)
    try:
        return run(args, db, sys.stdin, sys.stdout, sys.stderr, cache=cache)
    finally:
        db.client.close()


def _settings_classes() -> dict[str, type[CommonSettings]]:
    from services.capture.settings import CaptureSettings
    from services.detector.settings import DetectorSettings
    from services.recognizer.settings import RecognizerSettings
    from services.recorder.settings import RecorderSettings
    from services.web.settings import WebSettings

    return {
        "common": CommonSettings,
        "capture": CaptureSettings,
        "detector": DetectorSettings,
        "recognizer": RecognizerSettings,
        "recorder": RecorderSettings,
        "web": WebSettings,
    }


_SERVICE_SETTINGS = {
    name: (lambda name=name: _settings_classes()[name])
    for name in ("capture", "detector", "recognizer", "recorder", "web")
}
DATABASE_VARIABLES = ("MONGO_URL", "MONGO_DB")
ALL_IN_ONE_DATABASE = (
    "Without MONGO_URL, it works on the database of `attendance run` in ./data (the running "
    "one's, or one started for the command)."
)


def _add_command(
    commands,
    name: str,
    *,
    summary: str,
    description: str,
    needs: str,
    example: str,
    settings: tuple[type, ...] = (),
    only: tuple[str, ...] | None = None,
    extra: str = "",
    **options: object,
) -> argparse.ArgumentParser:
    """A subcommand whose help says what it does, what it needs, the variables it reads (from
    the settings classes) and an example."""
    from services.common.settings_help import environment_help

    parts = [f"needs: {needs}"]
    if extra:
        parts.append(extra)
    if settings:
        parts.append(environment_help(*settings, only=only))
    parts.append("example:\n" + "\n".join(f"  {line}" for line in example.splitlines()))
    return commands.add_parser(
        name,
        help=summary,
        description=textwrap.fill(description, HELP_WIDTH),
        epilog="\n\n".join(parts),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        **options,
    )


def _models_epilog() -> str:
    from services.common.model_files import DEFAULT_MODELS_DIR, MODEL_FILES, MODELS_DIR_ENV

    lines = [
        f"folder: --models-dir, else {MODELS_DIR_ENV}, else {DEFAULT_MODELS_DIR}",
        "files (each checked against its sha256 after download):",
    ]
    for spec in MODEL_FILES.values():
        lines.append(f"  {spec.name}: {spec.description}")
        lines.append(f"    from {spec.url}")
    return "\n".join(lines)


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The whole command line; with ``command``, the other subcommands' own arguments are
    left out (importing the account code alone takes a quarter of a second)."""
    from services.allinone import add_arguments as add_run_arguments
    from services.allinone import run_from_args

    classes = _settings_classes()
    parser = OneLineParser(
        prog="attendance",
        description="Face-recognition attendance. `attendance run` starts everything in one "
        "process; the other commands run one service each, or manage models, accounts and "
        "tokens. Settings come from the environment: each command's --help lists the "
        "variables it reads.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = _add_command(
        commands,
        "run",
        summary="everything in one process: dashboard, pipeline, database (no servers needed)",
        description="Run every service in one process, with an in-memory bus and cache and a "
        "built-in MongoDB-wire server keeping its files in --data-dir. Watches camera 0 when "
        "there is one, else only the kiosk and upload pages take pictures. Prints the "
        "dashboard's address and, on the first start, the admin password. Missing model files "
        "are downloaded first.",
        needs="nothing; RABBITMQ_URL, REDIS_URL and MONGO_URL, when set, name real servers to use",
        example="attendance run\n"
        "attendance run --video door.mp4 --enroll-dir people/   # people/<name>/*.jpg\n"
        "WEB_PORT=9000 SITE_TIMEZONE=Europe/Paris attendance run --camera 1",
        settings=tuple(
            classes[n] for n in ("capture", "detector", "recognizer", "recorder", "web")
        ),
    )
    add_run_arguments(run)
    run.set_defaults(run=run_from_args)

    capture = _add_command(
        commands,
        "capture",
        summary="publish frames from a camera, file or stream",
        description="Read frames from a camera, a video file, a stream or a folder of images "
        "and publish them to the detectors, CAPTURE_FPS per second.",
        needs="RabbitMQ",
        example="attendance capture --source rtsp://user:pass@door-cam/stream1 --camera-id door",
        settings=(classes["capture"],),
    )
    capture.add_argument("--source", help="camera index, video file, stream URL or folder")
    capture.add_argument("--camera-id", help="camera name in records (default: CAMERA_ID)")
    capture.add_argument("--fps", type=float, help="frames per second (default: CAPTURE_FPS)")
    capture.set_defaults(run=_capture)
    for name, summary, description, needs in (
        (
            "detector",
            "find and align faces in frames",
            "Find faces in the frames capture publishes (MediaPipe BlazeFace), follow them "
            "from frame to frame and publish each face, aligned. Scale by running more copies.",
            "RabbitMQ; the detector model file (downloaded when missing)",
        ),
        (
            "recognizer",
            "embed faces, match them, publish sightings; serve enrolments",
            "Embed each face (FaceNet), match it against the gallery of employees and publish "
            "sightings; also enrols photos for the web. Scale by running more copies.",
            "RabbitMQ, Redis, MongoDB; the model files (downloaded when missing)",
        ),
        (
            "recorder",
            "apply the attendance rules and store records",
            "Turn sightings into attendance records (arrival, departure per person and day) "
            "and purge old sightings.",
            "RabbitMQ, MongoDB",
        ),
        (
            "web",
            "the dashboard and REST API",
            "Serve the dashboard and the REST API (/api/v1) with waitress. The first start "
            "needs WEB_ADMIN_PASSWORD to create the admin account.",
            "RabbitMQ, Redis, MongoDB",
        ),
    ):
        _add_command(
            commands,
            name,
            summary=summary,
            description=description,
            needs=needs,
            example=f"RABBITMQ_URL=amqp://guest:guest@broker:5672/%2F attendance {name}"
            if name != "web"
            else "WEB_SECRET_KEY=$(python3 -c 'import secrets; print(secrets.token_hex(32))') \\\n"
            "  WEB_ADMIN_PASSWORD='a long passphrase' attendance web",
            settings=(classes[name],),
        ).set_defaults(run=_service(name))

    enroll = _add_command(
        commands,
        "enroll",
        summary="register an employee from photos",
        description="Register an employee from one or more photos, with the recognizer's own "
        "detection and embedding code. Recorded in the audit log as cli:<os user>.",
        needs="MongoDB, Redis; the model files",
        example='attendance enroll --name "Ada Lovelace" ada-1.jpg ada-2.jpg',
        settings=(classes["recognizer"],),
    )
    enroll.add_argument("--name", required=True, help="the employee's full name")
    enroll.add_argument("photos", nargs="+", metavar="PHOTO")
    enroll.add_argument(
        "--allow-duplicate-face",
        action="store_true",
        help="enrol even a face that is already another employee's",
    )
    enroll.set_defaults(run=_enroll)

    evaluate = commands.add_parser(
        "eval",
        help="measure accuracy on a labelled photo set or LFW (attendance eval --help)",
        description="Measure recognition accuracy; `attendance eval --help` has its options.",
        add_help=False,
    )
    evaluate.add_argument("rest", nargs=argparse.REMAINDER)
    evaluate.set_defaults(run=_eval)

    models = _add_command(
        commands,
        "models",
        summary="check or download the model files, or quantise FaceNet",
        description="check: say which model files are present and intact. download: fetch the "
        "missing ones from their official locations, with a progress bar, and check their "
        "sha256; on failure, one line per file with its URL, expected sha256 and destination, "
        "so it can be fetched elsewhere and copied in. quantize: make FaceNet's int8 ONNX graph "
        "for EMBEDDING_BACKEND=onnx-int8 in EMBEDDING_ONNX_DIR, its activation ranges taken "
        "from the faces of an LFW pairs file's photos (View 1 DevTrain), and print how "
        "closely it follows the fp32 network, as JSON.",
        needs="network access for download",
        extra=_models_epilog(),
        example="attendance models download\n"
        "attendance models check --models-dir /srv/attendance/models\n"
        "attendance models quantize --lfw lfw-view1 --pairs lfw-view1/pairsDevTrain.txt",
    )
    models.add_argument("action", choices=["check", "download", "quantize"])
    models.add_argument(
        "--models-dir", help="the folder (default: ATTENDANCE_MODELS_DIR, else the cache)"
    )
    models.add_argument("--lfw", help="quantize: the LFW folder whose photos calibrate")
    models.add_argument("--pairs", help="quantize: the pairs file naming those photos")
    models.add_argument(
        "--faces",
        type=int,
        default=256,
        help="quantize: photos sampled from the pairs file (default 256)",
    )
    models.set_defaults(run=_models)

    users = _add_command(
        commands,
        "users",
        summary="web accounts: list, add, set-password, set-role, remove, unlock",
        description="Manage the web's accounts; a lost admin password is one command. "
        "Passwords are read from a prompt or standard input, never from the command line. "
        "Changes end the account's sessions and are recorded in the audit log as "
        "cli:<os user>. " + ALL_IN_ONE_DATABASE,
        needs="MongoDB (unlock: also the web's Redis)",
        example="attendance users set-password admin\n"
        "printf '%s\\n' \"$NEW_PASSWORD\" | attendance users add lobby --role kiosk",
        settings=(classes["common"],),
        only=(*DATABASE_VARIABLES, "REDIS_URL", "ATTENDANCE_BUS_PREFIX"),
    )
    if command in (None, "users"):
        from services.web.account_commands import add_arguments as add_users_arguments

        add_users_arguments(users)
    users.set_defaults(run=_users)

    tokens = _add_command(
        commands,
        "tokens",
        summary="API tokens for scripts: create, list, revoke",
        description="Manage API tokens (the API tokens page does the same). A new token's "
        "secret is printed once, alone on standard output; send it as "
        "`Authorization: Bearer <secret>`. Recorded in the audit log as cli:<os user>. "
        + ALL_IN_ONE_DATABASE,
        needs="MongoDB",
        example="TOKEN=$(attendance tokens create --role viewer payroll)\n"
        'curl -H "Authorization: Bearer $TOKEN" http://localhost:8080/api/v1/employees\n'
        "attendance tokens revoke 0123456789ab",
        settings=(classes["common"],),
        only=DATABASE_VARIABLES,
    )
    if command in (None, "tokens"):
        from services.web.token_commands import add_arguments as add_tokens_arguments

        add_tokens_arguments(tokens)
    tokens.set_defaults(run=_tokens)

    from services.recognizer import reembed_command

    reembed = _add_command(
        commands,
        "reembed",
        summary="embed the stored enrolment photos again after the recipe changed",
        description=reembed_command.DESCRIPTION + " " + ALL_IN_ONE_DATABASE,
        needs=reembed_command.NEEDS,
        example=reembed_command.EXAMPLE,
        settings=(classes["recognizer"],),
    )
    reembed_command.add_arguments(reembed)
    reembed.set_defaults(run=_reembed)

    from services.bench import command as bench_command

    bench = _add_command(
        commands,
        "bench",
        summary="measure the pipeline's speed on a video, the network, matching",
        description=bench_command.DESCRIPTION,
        needs=bench_command.NEEDS,
        example=bench_command.EXAMPLE,
        settings=(classes["recognizer"],),
    )
    bench_command.add_arguments(bench)
    bench.set_defaults(run=_bench)
    return parser


def _reembed(args: argparse.Namespace) -> int:
    from services.recognizer.reembed_command import run_from_args

    _ensure_model_files(_settings_classes()["recognizer"].from_env())
    return run_from_args(args)


def _bench(args: argparse.Namespace) -> int:
    from services.bench.command import run_from_args

    return run_from_args(args)


@contextlib.contextmanager
def _database_of_the_all_in_one(command: str) -> Iterator[None]:
    """``users``, ``tokens`` and ``reembed`` without MONGO_URL work on the database
    ``attendance run``
    keeps in ./data, when there is one."""
    if command not in ("users", "tokens", "reembed") or os.environ.get("MONGO_URL"):
        yield
        return
    from services.allinone import all_in_one_database

    with all_in_one_database() as url:
        if url is None:
            yield
            return
        sys.stderr.write("MONGO_URL is not set: using the database of `attendance run` in ./data\n")
        os.environ["MONGO_URL"] = url
        try:
            yield
        finally:
            del os.environ["MONGO_URL"]


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["eval"]:
        # argparse's REMAINDER cannot pass on options (--manifest ...) as the first words, so
        # the evaluation's own parser takes them directly.
        return _eval(argparse.Namespace(rest=argv[1:]))
    from services.common.bus.base import BusUnavailable
    from services.common.model_files import ModelFileError

    args = build_parser(argv[0] if argv and not argv[0].startswith("-") else None).parse_args(argv)
    prog = f"attendance {args.command}"
    earlier_detectors = _loaded_detectors()
    try:
        if args.command == "enroll":
            _ensure_model_files(_settings_classes()["recognizer"].from_env())
        with _database_of_the_all_in_one(args.command):
            return int(args.run(args) or 0)
    except (SettingsError, ModelFileError) as exc:
        sys.stderr.write(f"{prog}: {exc}\n")
        return USAGE_ERROR
    except BusUnavailable as exc:
        # The broker is away, or a queue must drain before an upgrade: said in one line.
        sys.stderr.write(f"{prog}: {exc}\n")
        return 1
    except KeyboardInterrupt:
        sys.stderr.write(f"{prog}: interrupted\n")
        return 130
    finally:
        _close_loaded_detectors(keep=earlier_detectors)


def _loaded_detectors() -> frozenset:
    face_factory = sys.modules.get("services.faces.factory")
    return face_factory.built_detectors() if face_factory is not None else frozenset()


def _close_loaded_detectors(keep: frozenset) -> None:
    # MediaPipe's finaliser fails noisily when it runs during interpreter exit; only if loaded,
    # and only the command's own (a caller in the same process may still use its detectors).
    face_factory = sys.modules.get("services.faces.factory")
    if face_factory is not None:
        face_factory.close_detectors(keep=keep)


if __name__ == "__main__":
    sys.exit(main())
