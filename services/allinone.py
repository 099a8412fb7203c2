"""``attendance run``: every service in one process, with no broker, cache or database to install.

The services are the same classes the separate processes use. What changes is the plumbing:

- the bus is one :class:`InMemoryBroker` with an :class:`InMemoryCommunicator` per service (each
  consumed in its own daemon thread), unless ``RABBITMQ_URL`` is set;
- the cache is an :class:`InMemoryCache`, unless ``REDIS_URL`` is set;
- MongoDB is an nx-27017 MongoDB-wire server started as a subprocess on ``DATA_DIR/mongo``,
  unless ``MONGO_URL`` is set.

The web server (dashboard, REST API, ``/healthz``, ``/readyz``, ``/metrics``) is the only port.

Start-up checks everything it can before it loads a model (:meth:`AllInOne.check`), and the
first admin account is created only once every service is up, so a start that fails never
swallows the one-time password.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import secrets
import signal
import socket
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from pydantic import SecretStr

from services.capture.preflight import camera_present, check_source
from services.common.preflight import (
    check_account_password,
    check_enroll_dir,
    check_folder_is_usable,
    check_port_free,
    enrolment_folders,
    required_model_files,
)
from services.common.redact import redact_url
from services.common.runtime import configure_logging
from services.common.settings import SettingsError
from services.common.storage.mongo_wire import MongoWireServer, nx_executable

if TYPE_CHECKING:
    # Imported when used: a mistake in a flag is reported before the heavy modules load.
    from services.capture.service import Capture
    from services.common.bus.base import Communicator
    from services.common.cache import KeyValueCache
    from services.web.server import WebServer

logger = logging.getLogger(__name__)

SECRET_FILE = "secret_key"
# The first admin's generated password, until a start succeeds and shows it.
ADMIN_PASSWORD_FILE = "admin_password"
MONGO_FOLDER = "mongo"
# Where a running all-in-one says which port its database listens on, for `attendance users`.
MONGO_PORT_FILE = "port"
DEFAULT_DATA_DIR = Path("data")
ADMIN = "admin"
# Stands in for a key that is generated only once the checks passed (see AllInOne.check).
_KEY_TO_BE_GENERATED = "k" * 64
# Command-line flags by the settings field they set: errors name what the user typed.
FLAGS = {
    "camera_id": "--camera-id",
    "capture_fps": "--fps",
    "web_host": "--host",
    "web_port": "--port",
}


# -- command line ---------------------------------------------------------------------------
def add_arguments(parser: argparse.ArgumentParser) -> None:
    sources = parser.add_mutually_exclusive_group()
    sources.add_argument(
        "--camera", metavar="INDEX", help="a local camera (default: camera 0 when there is one)"
    )
    sources.add_argument("--video", metavar="FILE", help="a video file")
    sources.add_argument("--rtsp", metavar="URL", help="an RTSP (or HTTP) stream")
    parser.add_argument("--camera-id", help="camera name in records (default: CAMERA_ID)")
    parser.add_argument("--fps", type=float, help="frames per second to analyse (CAPTURE_FPS)")
    parser.add_argument("--loop", action="store_true", help="replay the --video file forever")
    parser.add_argument("--host", help="web address to listen on (default: WEB_HOST, 0.0.0.0)")
    parser.add_argument("--port", type=int, help="web port (default: WEB_PORT, 8080)")
    parser.add_argument(
        "--data-dir",
        default=str(DEFAULT_DATA_DIR),
        help="database files and the session key (default: ./data)",
    )
    parser.add_argument(
        "--enroll-dir", metavar="DIR", help="enrol DIR/<name>/*.jpg|jpeg|png at start-up"
    )
    parser.add_argument(
        "--mongo-port",
        type=int,
        default=0,
        help="port of the built-in MongoDB-wire server (default: a free one)",
    )


def run_from_args(args: argparse.Namespace) -> int:
    chosen = [flag for flag in ("camera", "video", "rtsp") if getattr(args, flag)]
    options = Options(
        source=args.camera or args.video or args.rtsp,
        source_flag=f"--{chosen[0]}" if chosen else None,
        camera_id=args.camera_id,
        fps=args.fps,
        loop=args.loop,
        host=args.host,
        port=args.port,
        data_dir=Path(args.data_dir),
        enroll_dir=Path(args.enroll_dir) if args.enroll_dir else None,
        mongo_port=args.mongo_port,
    )
    return AllInOne(options).run()


@dataclass
class Options:
    source: str | None = None
    # The flag the source came from (--camera, --video, --rtsp), for error messages.
    source_flag: str | None = None
    camera_id: str | None = None
    fps: float | None = None
    loop: bool = False
    host: str | None = None
    port: int | None = None
    data_dir: Path = DEFAULT_DATA_DIR
    enroll_dir: Path | None = None
    mongo_port: int = 0
    environ: dict[str, str] = field(default_factory=lambda: dict(os.environ))
    # Where the dashboard's address and the first admin password are shown to the person.
    out: TextIO = field(default_factory=lambda: sys.stdout)


@dataclass
class Plan:
    """What :meth:`AllInOne.check` found valid: each service's settings and the source."""

    detector: Any
    recognizer: Any
    recorder: Any
    capture: Any
    web: Any
    # None: kiosk mode (frames come from browsers).
    source: str | None
    # The flag or variable that gave the source; None when camera 0 was found by itself.
    source_name: str | None
    model_files: list[str]


# -- helpers --------------------------------------------------------------------------------
def _write_private(path: Path, text: str) -> None:
    """Write a file only its owner can read (mode 0600 from the start, not after)."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(text + "\n")
    os.chmod(path, 0o600)


def _read_stripped(path: Path) -> str | None:
    try:
        return path.read_text().strip() or None
    except OSError:
        return None


def load_or_create_secret(data_dir: Path) -> str:
    """The session key of this installation, kept in DATA_DIR/secret_key (mode 0600)."""
    path = data_dir / SECRET_FILE
    secret = _read_stripped(path)
    if secret:
        return secret
    secret = secrets.token_hex(32)
    _write_private(path, secret)
    logger.info("generated a session key in %s", path)
    return secret


def first_admin_password(users, data_dir: Path) -> str | None:
    """The generated password of the first admin account, to be shown once the start succeeded.

    It is kept in DATA_DIR/admin_password (mode 0600) from before the account is created until
    :func:`forget_first_admin_password`, so a start that fails after the account was created
    shows it the next time instead of losing it. None when an admin exists and no kept
    password still opens it.
    """
    from services.common.domain.accounts import AccountError

    path = data_dir / ADMIN_PASSWORD_FILE
    kept = _read_stripped(path)
    if users.has_admin():
        if kept and users.password_matches(ADMIN, kept):
            return kept
        path.unlink(missing_ok=True)
        return None
    password = kept or secrets.token_urlsafe(12)
    if not kept:
        _write_private(path, password)
    try:
        users.create_account(ADMIN, password, "admin")
    except AccountError as exc:
        if exc.code != "duplicate_account":
            raise
        role = users.account(ADMIN).role
        raise SettingsError(
            f"there is no admin account and the name {ADMIN!r} is a {role} account: "
            f"`attendance users set-role {ADMIN} admin` makes it one"
        ) from None
    return password


def forget_first_admin_password(data_dir: Path) -> None:
    (data_dir / ADMIN_PASSWORD_FILE).unlink(missing_ok=True)


def _announced_port(folder: Path) -> int | None:
    try:
        return int((folder / MONGO_PORT_FILE).read_text().strip())
    except (OSError, ValueError):
        return None


def _answers(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1.0)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@contextlib.contextmanager
def all_in_one_database(data_dir: Path = DEFAULT_DATA_DIR) -> Iterator[str | None]:
    """The MongoDB URL of the all-in-one installation in ``data_dir`` (``attendance users``
    and ``attendance tokens`` without MONGO_URL): the server of a running ``attendance run``,
    or one started for the command and stopped after it; None when there is none."""
    folder = data_dir / MONGO_FOLDER
    if not folder.is_dir():
        yield None
        return
    port = _announced_port(folder)
    if port is not None and _answers(port):
        yield f"mongodb://127.0.0.1:{port}"
        return
    server = MongoWireServer(folder)
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


class LockedEnroller:
    """The enroller used from many web request threads, one enrolment at a time (the face
    finder behind it is not meant for concurrent calls)."""

    def __init__(self, inner) -> None:
        self._inner = inner
        self._lock = threading.Lock()

    def enroll(self, name: str, photos: Sequence[bytes], *, allow_duplicate_face: bool = False):
        with self._lock:
            return self._inner.enroll(name, photos, allow_duplicate_face=allow_duplicate_face)

    def add_photos(
        self, employee_id: str, photos: Sequence[bytes], *, allow_duplicate_face: bool = False
    ):
        with self._lock:
            return self._inner.add_photos(
                employee_id, photos, allow_duplicate_face=allow_duplicate_face
            )

    def preview(self, photo: bytes):
        with self._lock:
            return self._inner.preview(photo)


def serve_all_metrics(app, bus: Communicator | None = None) -> None:
    """``/metrics`` shows the web's own metrics and the pipeline's (default registry), with the
    depth of each work queue of ``bus`` as each worker of the broker mode shows its own (and,
    on the in-process bus, ``attendance_queue_dropped_total`` by queue)."""
    from flask import Response
    from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

    from services.common.bus.topology import FACES, FRAMES, SIGHTINGS
    from services.common.metrics import QUEUE_DEPTH

    web_registry = app.extensions["attendance_metrics"]["registry"]

    def metrics() -> Response:
        if bus is not None:
            for channel in (FRAMES, FACES, SIGHTINGS):
                depth = bus.queue_depth(channel)
                if depth is not None:
                    QUEUE_DEPTH.labels(channel.work_queue).set(depth)
        body = generate_latest(web_registry) + generate_latest(REGISTRY)
        return Response(body, mimetype=CONTENT_TYPE_LATEST)

    app.view_functions["ops.metrics"] = metrics


# -- the process ----------------------------------------------------------------------------
class AllInOne:
    def __init__(self, options: Options) -> None:
        self.options = options
        self.env = options.environ
        self.stopping = threading.Event()
        self._cleanups: list[Callable[[], None]] = []
        self._buses: list[Communicator] = []
        self.mongo: MongoWireServer | None = None
        self.capture: Capture | None = None
        self.server: WebServer | None = None
        self.web_url: str | None = None
        # Detectors already in this process (a caller's, in tests) are not ours to close.
        self._earlier_detectors: frozenset = frozenset()

    # Settings are the services' own classes; the connections are overridden when we run them.
    def _settings(self, cls, **overrides):
        given = {k: v for k, v in overrides.items() if v is not None}
        return cls.from_env(self.env, given_as=FLAGS, **given)

    def _uses(self, variable: str) -> bool:
        return bool(self.env.get(variable))

    def run(self) -> int:
        from services.common.model_files import ensure_models
        from services.common.settings import CommonSettings
        from services.faces.factory import built_detectors

        self._earlier_detectors = built_detectors()

        common = self._settings(CommonSettings)
        configure_logging(common.log_level, common.log_json)
        plan = self.check()
        # Missing model files are downloaded now, once every quick check has passed.
        ensure_models(plan.model_files, plan.recognizer.attendance_models_dir)
        # From here a signal asks for a clean stop, which comes once the start is done.
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, self._on_signal)
        try:
            self.start(plan)
        except BaseException:
            self.shutdown()
            raise
        try:
            while not self.stopping.wait(0.5):
                pass
        finally:
            self.shutdown()
        return 0

    def _on_signal(self, signum: int, _frame: object) -> None:
        logger.info("received %s; stopping", signal.Signals(signum).name)
        self.stopping.set()

    def check(self) -> Plan:
        """Every check that needs no model and no server, in well under a second: settings,
        source, folders, ports, passwords. Raises :class:`SettingsError` (one line)."""
        from services.capture.settings import CaptureSettings
        from services.detector.settings import DetectorSettings
        from services.recognizer.settings import RecognizerSettings
        from services.recorder.settings import RecorderSettings
        from services.web.settings import WebSettings

        options = self.options
        source, source_name = self._source()
        if options.loop and options.source_flag != "--video":
            raise SettingsError("--loop replays a --video file; give one with --video FILE")
        check_folder_is_usable(options.data_dir, "--data-dir")
        if options.enroll_dir is not None:
            check_enroll_dir(options.enroll_dir)
        detector = self._settings(DetectorSettings)
        recognizer = self._settings(RecognizerSettings)
        recorder = self._settings(RecorderSettings)
        capture = self._settings(
            CaptureSettings,
            capture_source=source,
            camera_id=options.camera_id,
            capture_fps=options.fps,
            capture_loop=True if options.loop else None,
        )
        web = self._settings(
            WebSettings,
            web_secret_key=None if self._uses("WEB_SECRET_KEY") else _KEY_TO_BE_GENERATED,
            web_host=options.host,
            web_port=options.port,
        )
        if source is not None and source_name is not None:
            check_source(source, source_name)
        port_name = "--port" if options.port else "WEB_PORT" if self._uses("WEB_PORT") else "port"
        check_port_free(
            web.web_host, web.web_port, port_name, "; choose another with --port or WEB_PORT"
        )
        if options.mongo_port and not self._uses("MONGO_URL"):
            check_port_free("127.0.0.1", options.mongo_port, "--mongo-port")
        check_account_password(web.web_admin_password, ADMIN, "WEB_ADMIN_PASSWORD")
        check_account_password(web.web_viewer_password, "viewer", "WEB_VIEWER_PASSWORD")
        if not self._uses("MONGO_URL"):
            nx_executable()
        files = required_model_files(recognizer)
        return Plan(detector, recognizer, recorder, capture, web, source, source_name, files)

    def _source(self) -> tuple[str | None, str | None]:
        """The capture source and the name it was given by: a flag, CAPTURE_SOURCE, or camera
        0 when one is plugged in; (None, None) when there is none (kiosk mode)."""
        options = self.options
        if options.source is not None:
            return options.source, options.source_flag or "--camera"
        if self._uses("CAPTURE_SOURCE"):
            return self.env["CAPTURE_SOURCE"], "CAPTURE_SOURCE"
        if camera_present(0):
            return "0", None
        return None, None

    def start(self, plan: Plan) -> None:
        from services.common.storage.employees import EmployeeRepository
        from services.common.storage.mongo import connect
        from services.detector.main import build as build_detector
        from services.recognizer.main import build_stack, recognizer_for
        from services.recorder.main import build as build_recorder
        from services.recorder.main import run_retention

        options = self.options
        options.data_dir.mkdir(parents=True, exist_ok=True)
        data_dir = options.data_dir.resolve()

        connections: dict[str, str] = {}
        if not self._uses("MONGO_URL"):
            self.mongo = MongoWireServer(data_dir / MONGO_FOLDER, options.mongo_port)
            self.mongo.start()
            announced = self.mongo.data_dir / MONGO_PORT_FILE
            announced.write_text(f"{self.mongo.port}\n")
            self._cleanups.append(lambda: announced.unlink(missing_ok=True))
            connections["mongo_url"] = self.mongo.url
        web_overrides: dict[str, object] = dict(connections)
        if not self._uses("WEB_SECRET_KEY"):
            web_overrides["web_secret_key"] = SecretStr(load_or_create_secret(data_dir))
        detector_settings = plan.detector.model_copy(update=connections)
        recognizer_settings = plan.recognizer.model_copy(update=connections)
        recorder_settings = plan.recorder.model_copy(update=connections)
        db = connect(recognizer_settings.mongo_url, recognizer_settings.mongo_db)
        self._cleanups.append(db.client.close)
        cache = self._cache(recognizer_settings)
        new_bus = self._bus_factory(recognizer_settings)

        # Recognition: one stack (models loaded once) for the recognizer and enrolment.
        stack = build_stack(recognizer_settings, db, cache)
        if not self._uses("GALLERY_MODEL_ID"):
            web_overrides["gallery_model_id"] = stack.embedder.model_id
        web_settings = plan.web.model_copy(update=web_overrides)
        if options.enroll_dir is not None:
            self.enroll_folders(stack.enroller, EmployeeRepository(db), options.enroll_dir)

        detector_bus = new_bus("detector")
        detector = build_detector(detector_settings, detector_bus)
        detector.start()
        self._cleanups.append(detector.stop)
        recognizer_bus = new_bus("recognizer")
        # Enrolments are served in-process here, not over the bus.
        recognizer_for(
            recognizer_settings, recognizer_bus, stack, cache, serve_enrolments=False
        ).start()
        recorder_bus = new_bus("recorder")
        recorder = build_recorder(recorder_settings, recorder_bus, db)
        recorder.start()
        threading.Thread(
            target=run_retention, args=(recorder, self.stopping), name="retention", daemon=True
        ).start()
        for name, bus in (
            ("detector", detector_bus),
            ("recognizer", recognizer_bus),
            ("recorder", recorder_bus),
        ):
            self._consume(name, bus)

        password = None
        if not web_settings.web_admin_password:
            from services.common.storage.accounts import UserStore

            password = first_admin_password(UserStore(db), data_dir)
        self.start_web(
            web_settings, db, cache, new_bus, LockedEnroller(stack.enroller), recognizer_bus
        )
        if plan.source is not None:
            self.start_capture(plan.capture, new_bus("capture"))
        self.welcome(plan, password)
        if password is not None:
            forget_first_admin_password(data_dir)

    def welcome(self, plan: Plan, password: str | None) -> None:
        """Everything runs: say where, and on the first start show the admin password."""
        out = self.options.out
        if plan.source is None:
            out.write(
                "No camera found and none given (--camera, --video, --rtsp): running with the "
                "kiosk and upload pages only.\n"
            )
        elif plan.source_name is None:
            out.write(
                f"Watching camera {plan.source} as {plan.capture.camera_id!r} (found by itself; "
                "--video FILE or --rtsp URL watch something else).\n"
            )
        out.write(f"Dashboard: {self.web_url}   (kiosk page: {self.web_url}/kiosk)\n")
        if password is not None:
            out.write(
                f"Log in as '{ADMIN}' with password {password}\n"
                "(shown only this once, only its hash is stored; change it on the Accounts page "
                f"or with: attendance users set-password {ADMIN})\n"
            )
        else:
            logger.info(
                "an admin account exists; a forgotten password is reset with "
                "`attendance users set-password %s` %s",
                ADMIN,
                self._users_command_hint(),
            )
        out.flush()
        logger.info("all services running; dashboard on %s", self.web_url)

    def _users_command_hint(self) -> str:
        """Where `attendance users` finds this installation's accounts."""
        if self._uses("MONGO_URL"):
            return "(with this MONGO_URL and MONGO_DB)"
        if self.options.data_dir.resolve() == DEFAULT_DATA_DIR.resolve():
            return "(run in this folder)"
        port = self.mongo.port if self.mongo is not None else "PORT"
        return f"(with MONGO_URL=mongodb://127.0.0.1:{port} while this runs)"

    # -- pieces -----------------------------------------------------------------------------
    def _cache(self, settings) -> KeyValueCache:
        from services.common.cache import InMemoryCache, RedisCache

        if self._uses("REDIS_URL"):
            cache = RedisCache(settings.redis_url, settings.attendance_bus_prefix)
            cache.wait_until_ready()
            logger.info("cache: Redis (REDIS_URL)")
            return cache
        logger.info("cache: in memory")
        return InMemoryCache()

    def _bus_factory(self, settings) -> Callable[[str], Communicator]:
        if self._uses("RABBITMQ_URL"):
            from services.common.runtime import connect_bus

            logger.info("bus: RabbitMQ (RABBITMQ_URL)")

            def rabbit(_name: str) -> Communicator:
                bus = connect_bus(settings)
                self._buses.append(bus)
                return bus

            return rabbit
        from services.common.bus.memory import InMemoryBroker, InMemoryCommunicator

        broker = InMemoryBroker()
        logger.info("bus: in memory")

        def memory(_name: str) -> Communicator:
            bus = InMemoryCommunicator(broker, settings.attendance_max_attempts)
            self._buses.append(bus)
            return bus

        return memory

    def _consume(self, name: str, bus: Communicator) -> None:
        def consume() -> None:
            try:
                bus.run()
            except Exception:
                logger.exception("%s stopped on an error; stopping everything", name)
                self.stopping.set()

        threading.Thread(target=consume, name=name, daemon=True).start()

    def enroll_folders(self, enroller, employees, enroll_dir: Path) -> None:
        from services.recognizer.enrolment import EnrolmentError

        for name, photos in enrolment_folders(enroll_dir):
            if not photos:
                logger.warning(
                    "enrolment of %r skipped: no .jpg, .jpeg or .png in its folder", name
                )
                continue
            if employees.find_by_name(name) is not None:
                logger.info("%r is already enrolled; skipping its folder", name)
                continue
            try:
                employee = enroller.enroll(name, [photo.read_bytes() for photo in photos])
            except (EnrolmentError, OSError) as exc:
                code = getattr(exc, "code", "unreadable")
                logger.warning("enrolment of %r refused (%s): %s", name, code, exc)
                continue
            logger.info(
                "enrolled %r from %d photo(s) as %s", name, len(photos), employee.employee_id
            )

    def start_web(self, settings, db, cache, new_bus, enroller, pipeline_bus=None) -> None:
        from services.web.app import create_app
        from services.web.server import web_server

        frames_bus = new_bus("web")
        if self._uses("RABBITMQ_URL"):
            from services.web.main import SerializedBus

            frames_bus = SerializedBus(frames_bus)
        app = create_app(
            settings,
            db=db,
            cache=cache,
            bus=frames_bus,
            enroller=enroller,
            # A fresh connection each time the live feed reconnects after a broker outage.
            live_bus_factory=lambda: new_bus("web-live"),
        )
        serve_all_metrics(app, pipeline_bus)
        self._cleanups.append(app.extensions["attendance"].live.stop)
        try:
            self.server = web_server(app, settings)
        except OSError as exc:
            # Taken since the check a moment ago.
            raise SettingsError(
                f"port {settings.web_port}: cannot listen on {settings.web_host} "
                f"({exc.strerror}); choose another with --port or WEB_PORT"
            ) from None
        shown = "127.0.0.1" if settings.web_host in ("0.0.0.0", "::") else settings.web_host
        self.web_url = f"http://{shown}:{self.server.port}"
        threading.Thread(target=self.server.serve_forever, name="web", daemon=True).start()

    def start_capture(self, settings, bus: Communicator) -> None:
        from services.capture.main import build
        from services.capture.sources import SourceError

        self.capture = source = build(settings, bus)

        def capture() -> None:
            try:
                source.run()
            except SourceError as exc:
                logger.error("capture failed: %s (the dashboard keeps running)", exc)
            except Exception:
                logger.exception("capture stopped on an error (the dashboard keeps running)")

        threading.Thread(target=capture, name="capture", daemon=True).start()
        logger.info(
            "capturing %s as camera %r", redact_url(settings.capture_source), settings.camera_id
        )

    def shutdown(self) -> None:
        from services.faces.factory import close_detectors

        self.stopping.set()
        if self.capture is not None:
            self.capture.stop()
        if self.server is not None:
            self.server.stop()
        for bus in self._buses:
            bus.stop()
        for cleanup in reversed(self._cleanups):
            try:
                cleanup()
            except Exception:
                logger.warning("clean-up step failed", exc_info=True)
        for bus in self._buses:
            try:
                bus.close()
            except Exception:
                logger.warning("closing a bus failed", exc_info=True)
        self._buses.clear()
        self._cleanups.clear()
        # MediaPipe's own finaliser fails noisily when it runs during interpreter exit.
        close_detectors(keep=self._earlier_detectors)
        if self.mongo is not None:
            self.mongo.stop()
            self.mongo = None
        logger.info("stopped")
