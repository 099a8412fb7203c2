"""Start-up checks that run before anything slow: ports, paths, sources, passwords, model files.

A mistake in a flag or a variable should cost the user one line and a second, not a minute of
model loading followed by a traceback. Each check raises :class:`SettingsError` with one line
that names the flag or variable as the user typed it (``--port``, ``WEB_PORT``).
"""

from __future__ import annotations

import errno
import os
import socket
from pathlib import Path

from pydantic import SecretStr

from services.common.model_files import (
    FACENET_CASIA,
    FULL_RANGE_DETECTOR,
    LIVENESS_V1SE,
    LIVENESS_V2,
    SHORT_RANGE_DETECTOR,
)
from services.common.settings import SettingsError

PHOTO_SUFFIXES = frozenset({".jpg", ".jpeg", ".png"})
DETECTOR_FILES = {"short": SHORT_RANGE_DETECTOR, "full": FULL_RANGE_DETECTOR}


def check_port_free(host: str, port: int, name: str, hint: str = "") -> None:
    """The web server will be able to listen on ``host:port`` (as waitress binds: reusing a
    port in TIME_WAIT, refusing one that something listens on)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise SettingsError(f"cannot listen on {host!r} ({exc.strerror})") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise SettingsError(
                    f"{name} {port}: the port is in use on {host} (another program listens "
                    f"there){hint}"
                ) from None
            if exc.errno == errno.EACCES:
                raise SettingsError(
                    f"{name} {port}: not allowed to listen there (ports below 1024 need root){hint}"
                ) from None
            raise SettingsError(
                f"{name} {port}: cannot listen on {host} ({exc.strerror})"
            ) from None


def check_folder_is_usable(path: Path, name: str) -> None:
    """A folder we will write to exists, or can be created, and is writable."""
    if path.exists() and not path.is_dir():
        raise SettingsError(f"{name} {path}: exists and is not a folder")
    existing = path
    while not existing.exists():
        existing = existing.parent
    if not os.access(existing, os.W_OK | os.X_OK):
        raise SettingsError(f"{name} {path}: no permission to write there")


def enrolment_folders(enroll_dir: Path) -> list[tuple[str, list[Path]]]:
    """``(name, photos)`` for every sub-folder of ``enroll_dir``, sorted by name."""
    found = []
    for folder in sorted(p for p in enroll_dir.iterdir() if p.is_dir()):
        photos = sorted(
            p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in PHOTO_SUFFIXES
        )
        found.append((folder.name, photos))
    return found


def check_enroll_dir(path: Path, name: str = "--enroll-dir") -> None:
    """An enrolment folder holds one sub-folder per person with at least one photo somewhere."""
    if not path.exists():
        raise SettingsError(f"{name} {path}: no such folder")
    if not path.is_dir():
        raise SettingsError(f"{name} {path}: not a folder (expected {path}/<name>/*.jpg)")
    try:
        folders = enrolment_folders(path)
    except PermissionError:
        raise SettingsError(f"{name} {path}: no permission to read it") from None
    if not folders:
        raise SettingsError(
            f"{name} {path}: no sub-folders; put each person's photos in {path}/<name>/"
            f" ({', '.join(sorted(PHOTO_SUFFIXES))})"
        )
    if not any(photos for _, photos in folders):
        raise SettingsError(
            f"{name} {path}: none of its {len(folders)} sub-folder(s) holds a "
            f"{', '.join(sorted(PHOTO_SUFFIXES))} photo"
        )


def check_account_password(password: SecretStr | None, account: str, variable: str) -> None:
    """A password setting that creates an account follows the account rules (12+ characters,
    not a common one), so a weak one stops the start before anything loads."""
    if not password:
        return
    from services.common.domain.passwords import WeakPassword, check_password

    try:
        check_password(password.get_secret_value(), account)
    except WeakPassword as exc:
        raise SettingsError(f"{variable}: {exc}") from None


def required_model_files(settings: object) -> list[str]:
    """The model files a detector or recognizer with these settings loads from the models
    folder (FaceNet weights named by FACENET_WEIGHTS or FACENET_PRETRAINED come from elsewhere).
    With LIVENESS on, the two liveness networks: the detector scores camera faces with them and
    the recognizer judges enrolment previews."""
    names = [DETECTOR_FILES[settings.detector_model]]  # type: ignore[attr-defined]
    if getattr(settings, "liveness", "off") != "off":
        names += [LIVENESS_V2, LIVENESS_V1SE]
    weights = getattr(settings, "facenet_weights", None)
    pretrained = getattr(settings, "facenet_pretrained", None)
    if weights is not None:
        if not Path(weights).is_file():
            raise SettingsError(f"FACENET_WEIGHTS={weights}: no such file")
    elif pretrained is None and hasattr(settings, "match_threshold"):
        names.append(FACENET_CASIA)
    return names
