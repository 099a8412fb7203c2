"""``attendance run``: every service in one process, with no broker, cache or database to install.

The services are the same classes the separate processes use. What changes is the plumbing:

- the bus is one :class:`InMemoryBroker` with an :class:`InMemoryCommunicator` per service (each
  consumed in its own daemon thread), unless ``RABBITMQ_URL`` is set;
- the cache is an :class:`InMemoryCache`, unless ``REDIS_URL`` is set;
- MongoDB is an nx-27017 MongoDB-wire server started as a subprocess on ``DATA_DIR/mongo``,
  unless ``MONGO_URL`` is set.

The web server (dashboard, REST API, ``/healthz``, ``/readyz``, ``/metrics``) is the only port.
"""

from __future__ import annotations

import argparse
import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from services.common.bus.base import Communicator
from services.common.cache import InMemoryCache, KeyValueCache, RedisCache
from services.common.redact import redact_url
from services.common.runtime import configure_logging
from services.common.settings import SettingsError

logger = logging.getLogger(__name__)

PHOTO_SUFFIXES = frozenset({".jpg", ".jpeg", ".png"})
SECRET_FILE = "secret_key"
STOP_TIMEOUT_S = 10.0


# -- command line ---------------------------------------------------------------------------
def add_arguments(parser: argparse.ArgumentParser) -> None:
    sources = parser.add_mutually_exclusive_group()
    sources.add_argument("--camera", metavar="INDEX", help="a local camera, e.g. 0")
    sources.add_argument("--video", metavar="FILE", help="a video file")
    sources.add_argument("--rtsp", metavar="URL", help="an RTSP (or HTTP) stream")
    parser.add_argument("--camera-id", help="camera name in records (default: CAMERA_ID)")
    parser.add_argument("--fps", type=float, help="frames per second to analyse")
    parser.add_argument("--loop", action="store_true", help="replay the video file forever")
    parser.add_argument("--host", help="web address to listen on (default: WEB_HOST, 0.0.0.0)")
    parser.add_argument("--port", type=int, help="web port (default: WEB_PORT, 8080)")
    parser.add_argument(
        "--data-dir", default="./data", help="database files and the secret key (./data)"
    )
    parser.add_argument("--enroll-dir", metavar="DIR", help="enrol DIR/<name>/*.jpg|jpeg|png")
    parser.add_argument(
        "--mongo-port", type=int, default=0, help="port of the built-in MongoDB-wire server"
    )


def run_from_args(args: argparse.Namespace) -> int:
    source = args.camera or args.video or args.rtsp
    options = Options(
        source=source,
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
    camera_id: str | None = None
    fps: float | None = None
    loop: bool = False
    host: str | None = None
    port: int | None = None
    data_dir: Path = Path("./data")
    enroll_dir: Path | None = None
    mongo_port: int = 0
    environ: dict[str, str] = field(default_factory=lambda: dict(os.environ))


# -- helpers --------------------------------------------------------------------------------
def load_or_create_secret(data_dir: Path) -> str:
    """The session key of this installation, kept in DATA_DIR/secret_key (mode 0600)."""
    path = data_dir / SECRET_FILE
    if path.exists():
        secret = path.read_text().strip()
        if secret:
            return secret
    secret = secrets.token_hex(32)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(secret + "\n")
    os.chmod(path, 0o600)
    logger.info("generated a session key in %s", path)
    return secret


def enrolment_folders(enroll_dir: Path) -> list[tuple[str, list[Path]]]:
    """``(name, photos)`` for every sub-folder of ``enroll_dir``, sorted by name."""
    if not enroll_dir.is_dir():
        raise SettingsError(f"--enroll-dir {enroll_dir} is not a folder")
    found = []
    for folder in sorted(p for p in enroll_dir.iterdir() if p.is_dir()):
        photos = sorted(
            p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in PHOTO_SUFFIXES
        )
        found.append((folder.name, photos))
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for_port(port: int, process: subprocess.Popen, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"nx-27017 exited with status {process.returncode}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"nx-27017 did not listen on port {port} within {timeout:.0f}s")


def nx_executable() -> str:
    beside = Path(sys.executable).parent / "nx-27017"
    if beside.exists():
        return str(beside)
    found = shutil.which("nx-27017")
    if found is None:
        raise SettingsError(
            "nx-27017 is not installed (pip install nx-27017), and MONGO_URL is not set"
        )
    return found


class MongoWireServer:
    """An nx-27017 subprocess holding its files in ``data_dir``."""

    def __init__(self, data_dir: Path, port: int = 0) -> None:
        self.data_dir = data_dir
        self.port = port or free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"mongodb://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [
                nx_executable(),
                "--data-dir",
                str(self.data_dir),
                "-p",
                str(self.port),
                "--log-file",
                str(self.data_dir / "server.log"),
                "--pid-file",
                str(self.data_dir / "server.pid"),
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            # Its own process group: Ctrl-C reaches us, and we stop it in order.
            start_new_session=True,
        )
        try:
            _wait_for_port(self.port, self.process)
        except RuntimeError:
            self.stop()
            raise
        logger.info("MongoDB-wire server on port %d (files in %s)", self.port, self.data_dir)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=STOP_TIMEOUT_S)


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


def serve_all_metrics(app) -> None:
    """``/metrics`` shows the web's own metrics and the pipeline's (default registry)."""
    from flask import Response
    from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

    web_registry = app.extensions["attendance_metrics"]["registry"]

    def metrics() -> Response:
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
        self.capture = None
        self.server = None
        self.web_url: str | None = None

    # Settings are the services' own classes; the connections are overridden when we run them.
    def _settings(self, cls, **overrides):
        return cls.from_env(self.env, **{k: v for k, v in overrides.items() if v is not None})

    def _uses(self, variable: str) -> bool:
        return bool(self.env.get(variable))

    def run(self) -> int:
        from services.common.settings import CommonSettings

        common = self._settings(CommonSettings)
        configure_logging(common.log_level, common.log_json)
        try:
            self.start()
        except BaseException:
            self.shutdown()
            raise
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, self._on_signal)
        try:
            while not self.stopping.wait(0.5):
                pass
        finally:
            self.shutdown()
        return 0

    def _on_signal(self, signum: int, _frame: object) -> None:
        logger.info("received %s; stopping", signal.Signals(signum).name)
        self.stopping.set()

    def start(self) -> None:
        from services.capture.settings import CaptureSettings
        from services.common.storage.employees import EmployeeRepository
        from services.common.storage.mongo import connect
        from services.detector.main import build as build_detector
        from services.detector.settings import DetectorSettings
        from services.recognizer.main import build_stack, recognizer_for
        from services.recognizer.settings import RecognizerSettings
        from services.recorder.main import build as build_recorder
        from services.recorder.main import run_retention
        from services.recorder.settings import RecorderSettings
        from services.web.settings import WebSettings

        options = self.options
        options.data_dir.mkdir(parents=True, exist_ok=True)
        data_dir = options.data_dir.resolve()

        connections: dict[str, str] = {}
        if not self._uses("MONGO_URL"):
            self.mongo = MongoWireServer(data_dir / "mongo", options.mongo_port)
            self.mongo.start()
            connections["mongo_url"] = self.mongo.url
        secret = None if self._uses("WEB_SECRET_KEY") else load_or_create_secret(data_dir)

        detector_settings = self._settings(DetectorSettings, **connections)
        recognizer_settings = self._settings(RecognizerSettings, **connections)
        recorder_settings = self._settings(RecorderSettings, **connections)
        capture_settings = self._settings(
            CaptureSettings,
            capture_source=options.source,
            camera_id=options.camera_id,
            capture_fps=options.fps,
            capture_loop=True if options.loop else None,
            **connections,
        )
        db = connect(recognizer_settings.mongo_url, recognizer_settings.mongo_db)
        self._cleanups.append(db.client.close)
        cache = self._cache(recognizer_settings)
        new_bus = self._bus_factory(recognizer_settings)

        # Recognition: one stack (models loaded once) for the recognizer and enrolment.
        stack = build_stack(recognizer_settings, db, cache)
        web_settings = self._settings(
            WebSettings,
            web_secret_key=secret,
            web_host=options.host,
            web_port=options.port,
            gallery_model_id=None if self._uses("GALLERY_MODEL_ID") else stack.embedder.model_id,
            **connections,
        )
        if options.enroll_dir is not None:
            self.enroll_folders(stack.enroller, EmployeeRepository(db), options.enroll_dir)

        detector_bus = new_bus("detector")
        build_detector(detector_settings, detector_bus).start()
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

        self.start_web(web_settings, db, cache, new_bus, LockedEnroller(stack.enroller))
        if options.source is not None:
            self.start_capture(capture_settings, new_bus("capture"))
        else:
            logger.info("no camera or video given: kiosk mode (frames come from browsers)")
        logger.info("all services running; dashboard on %s", self.web_url)

    # -- pieces -----------------------------------------------------------------------------
    def _cache(self, settings) -> KeyValueCache:
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

    def start_web(self, settings, db, cache, new_bus, enroller) -> None:
        from services.web.app import create_app
        from services.web.server import web_server
        from services.web.users import UserStore

        users = UserStore(db)
        if not settings.web_admin_password and not users.has_admin():
            password = secrets.token_urlsafe(12)
            users.ensure_user("admin", password, "admin")
            logger.warning(
                "created the web account 'admin' with password %s (shown only this once; "
                "only its hash is stored)",
                password,
            )
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
        serve_all_metrics(app)
        self._cleanups.append(app.extensions["attendance"].live.stop)
        self.server = web_server(app, settings)
        shown = "127.0.0.1" if settings.web_host in ("0.0.0.0", "::") else settings.web_host
        self.web_url = f"http://{shown}:{self.server.port}"
        threading.Thread(target=self.server.serve_forever, name="web", daemon=True).start()

    def start_capture(self, settings, bus: Communicator) -> None:
        from services.capture.main import build
        from services.capture.sources import SourceError

        self.capture = build(settings, bus)

        def capture() -> None:
            try:
                self.capture.run()
            except SourceError as exc:
                logger.error("capture failed: %s (the dashboard keeps running)", exc)
            except Exception:
                logger.exception("capture stopped on an error (the dashboard keeps running)")

        threading.Thread(target=capture, name="capture", daemon=True).start()
        logger.info(
            "capturing %s as camera %r", redact_url(settings.capture_source), settings.camera_id
        )

    def shutdown(self) -> None:
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
        if self.mongo is not None:
            self.mongo.stop()
            self.mongo = None
        logger.info("stopped")
