"""The model files the pipeline needs: where they are, whether they are intact, how to get them.

Every service that loads a model asks :func:`resolve_model_file` for its path. A missing or
corrupt file fails at start-up with one message that names the file, the folder searched and
the two ways to fix it, instead of a stack trace from deep inside MediaPipe or torch.
"""

from __future__ import annotations

import hashlib
import logging
import os
import sys
import tempfile
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

logger = logging.getLogger(__name__)

MODELS_DIR_ENV = "ATTENDANCE_MODELS_DIR"
DEFAULT_MODELS_DIR = Path.home() / ".cache" / "attendance" / "models"
HOW_TO_GET = f"run `attendance models download` or set {MODELS_DIR_ENV} to a folder that holds it"


@dataclass(frozen=True)
class ModelFile:
    """One model file: its name on disk, the hashes we accept and where to download it."""

    name: str
    description: str
    # Hashes of files known to be good. The official download can differ from the copy we were
    # given (MediaPipe's download carries metadata, facenet-pytorch's carries a logits layer);
    # both load the same network, so both hashes are accepted.
    sha256: tuple[str, ...]
    url: str
    size_hint: int


SHORT_RANGE_DETECTOR = "face_detection_short_range.tflite"
FULL_RANGE_DETECTOR = "face_detection_full_range_sparse.tflite"
FACENET_CASIA = "facenet-casia-webface.pt"
LIVENESS_V2 = "2.7_80x80_MiniFASNetV2.pth"
LIVENESS_V1SE = "4_0_0_80x80_MiniFASNetV1SE.pth"
# The anti-spoofing pair is published only as files in its repository, not as a release: the
# URLs pin the commit the reference copies come from, so the pinned hashes hold.
_SILENT_FACE = (
    "https://github.com/minivision-ai/Silent-Face-Anti-Spoofing/raw/"
    "b6d5f04ad78778917853b25c778acef6d5626d15/resources/anti_spoof_models/"
)

MODEL_FILES: dict[str, ModelFile] = {
    SHORT_RANGE_DETECTOR: ModelFile(
        name=SHORT_RANGE_DETECTOR,
        description="MediaPipe BlazeFace short-range face detector (faces within ~2 m)",
        sha256=("bbff11cebd1eb27a1e004cae0b0e63ec8c551cbf34a4451148b4908b8db3eca8",),
        url=(
            "https://storage.googleapis.com/mediapipe-models/face_detector/"
            "blaze_face_short_range/float16/latest/blaze_face_short_range.tflite"
        ),
        size_hint=230_000,
    ),
    FULL_RANGE_DETECTOR: ModelFile(
        name=FULL_RANGE_DETECTOR,
        description="MediaPipe BlazeFace full-range face detector (small, distant faces)",
        sha256=("2c3728e6da56f21e21a320433396fb06d40d9088f2247c05e5635a688d45dfe1",),
        # The Tasks model zoo publishes no full-range file; the MediaPipe repository does.
        url=(
            "https://github.com/google-ai-edge/mediapipe/raw/v0.10.21/"
            "mediapipe/modules/face_detection/face_detection_full_range_sparse.tflite"
        ),
        size_hint=680_000,
    ),
    FACENET_CASIA: ModelFile(
        name=FACENET_CASIA,
        description="FaceNet Inception-ResNet-v1 20180408-102900 trained on CASIA-WebFace",
        sha256=("e9bb97f6eb16a5cc51bbe0d2f6105411fa33571eac546a3f7aa267700c47287d",),
        url=(
            "https://github.com/timesler/facenet-pytorch/releases/download/v2.2.9/"
            "20180408-102900-casia-webface.pt"
        ),
        size_hint=94_000_000,
    ),
    LIVENESS_V2: ModelFile(
        name=LIVENESS_V2,
        description="MiniFASNet V2 passive anti-spoofing network (face box x2.7 context)",
        sha256=("a5eb02e1843f19b5386b953cc4c9f011c3f985d0ee2bb9819eea9a142099bec0",),
        url=_SILENT_FACE + LIVENESS_V2,
        size_hint=1_850_000,
    ),
    LIVENESS_V1SE: ModelFile(
        name=LIVENESS_V1SE,
        description="MiniFASNet V1SE passive anti-spoofing network (face box x4 context)",
        sha256=("84ee1d37d96894d5e82de5a57df044ef80a58be2b218b5ed7cdfd875ec2f5990",),
        url=_SILENT_FACE + LIVENESS_V1SE,
        size_hint=1_860_000,
    ),
}

# Files downloaded from the official URLs differ byte-wise from the reference copies (see
# ModelFile.sha256) and their hashes could not be pinned here. download_models() records the
# hash of what it fetched over HTTPS in a `<name>.sha256` file beside it; such a file is
# accepted when it still has that hash, so later corruption is caught all the same.
_UNPINNED_DOWNLOADS = frozenset({SHORT_RANGE_DETECTOR, FACENET_CASIA})
SIDECAR_SUFFIX = ".sha256"
CONNECT_TIMEOUT_S = 10.0


def _recorded_hash(path: Path) -> str | None:
    sidecar = path.with_name(path.name + SIDECAR_SUFFIX)
    try:
        return sidecar.read_text().split()[0].strip().lower()
    except (OSError, IndexError):
        return None


class ModelFileError(RuntimeError):
    """A model file is missing or corrupt; the message says which, where and how to fix it."""


@dataclass(frozen=True)
class ModelStatus:
    name: str
    path: Path
    state: Literal["ok", "missing", "unknown-hash"]
    sha256: str | None
    detail: str


_hash_cache: dict[tuple[str, int, int], str] = {}
_hash_lock = threading.Lock()


def models_dir_from_env(models_dir: Path | None = None) -> Path:
    """The folder to search: the argument, else ``$ATTENDANCE_MODELS_DIR``, else the cache."""
    if models_dir is not None:
        return Path(models_dir).expanduser()
    from_env = os.environ.get(MODELS_DIR_ENV)
    if from_env:
        return Path(from_env).expanduser()
    return DEFAULT_MODELS_DIR


def sha256_of(path: Path) -> str:
    """sha256 of a file, cached per (path, size, mtime): the 94 MB FaceNet file costs ~0.3 s."""
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    with _hash_lock:
        cached = _hash_cache.get(key)
    if cached is not None:
        return cached
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    value = digest.hexdigest()
    with _hash_lock:
        _hash_cache[key] = value
    return value


def verify_sha256(path: Path, name: str | None = None) -> bool:
    """True when the file's hash is one accepted for that model name (default: the file name)."""
    spec = MODEL_FILES.get(name or path.name)
    if spec is None:
        raise KeyError(f"unknown model file {name or path.name!r}")
    return sha256_of(path) in spec.sha256


def resolve_model_file(models_dir: Path | None, name: str, *, verify: bool = True) -> Path:
    """The path of model file ``name``, checked to exist and (by default) to be intact.

    A file with an unknown hash is refused, unless it is an official download whose hash
    download_models() recorded beside it (see _UNPINNED_DOWNLOADS).
    """
    if name not in MODEL_FILES:
        raise ModelFileError(f"unknown model file {name!r} (known: {', '.join(MODEL_FILES)})")
    folder = models_dir_from_env(models_dir)
    path = folder / name
    if not path.is_file():
        raise ModelFileError(
            f"model file {name} not found in {folder}: {HOW_TO_GET} "
            f"(expected {MODEL_FILES[name].description})"
        )
    if verify and not verify_sha256(path, name):
        digest = sha256_of(path)
        if name in _UNPINNED_DOWNLOADS and _recorded_hash(path) == digest:
            logger.info("model file %s is the official download (sha256 %s)", path, digest)
        else:
            raise ModelFileError(
                f"model file {name} in {folder} is corrupt (sha256 {digest[:12]}..., expected "
                f"{MODEL_FILES[name].sha256[0][:12]}...): delete it and {HOW_TO_GET}"
            )
    return path


def _is_intact(path: Path, spec: ModelFile) -> bool:
    digest = sha256_of(path)
    return digest in spec.sha256 or (
        spec.name in _UNPINNED_DOWNLOADS and _recorded_hash(path) == digest
    )


def check_models(models_dir: Path | None = None) -> list[ModelStatus]:
    """One status per known model file, for `attendance models check` and health output."""
    folder = models_dir_from_env(models_dir)
    statuses = []
    for name, spec in MODEL_FILES.items():
        path = folder / name
        if not path.is_file():
            statuses.append(ModelStatus(name, path, "missing", None, f"not found; {HOW_TO_GET}"))
        elif _is_intact(path, spec):
            statuses.append(ModelStatus(name, path, "ok", sha256_of(path), spec.description))
        else:
            statuses.append(
                ModelStatus(
                    name, path, "unknown-hash", sha256_of(path), "hash differs from reference"
                )
            )
    return statuses


@dataclass(frozen=True)
class DownloadFailure:
    """A file that could not be fetched: what, from where, why, and where it belongs."""

    spec: ModelFile
    destination: Path
    reason: str

    def line(self) -> str:
        expected = f"sha256 {self.spec.sha256[0]}"
        if self.spec.name in _UNPINNED_DOWNLOADS:
            # The official file is another build of the same network (see _UNPINNED_DOWNLOADS).
            expected += " (the reference copy's; the URL's own is recorded when it is fetched)"
        return (
            f"{self.spec.name}: {self.reason}; url {self.spec.url} {expected} to {self.destination}"
        )


class ModelDownloadError(ModelFileError):
    """Some files could not be downloaded; one line per file in the message."""

    def __init__(self, failures: list[DownloadFailure]) -> None:
        super().__init__("\n".join(failure.line() for failure in failures))
        self.failures = failures


def download_models(
    models_dir: Path | None = None,
    names: Iterable[str] | None = None,
    *,
    timeout: float = 60.0,
    progress: bool | None = None,
) -> list[Path]:
    """Download the missing model files (default: all) into the folder; intact files are kept.

    Every file is tried; those that fail are reported together in one
    :class:`ModelDownloadError` (one line each, no traceback). A progress bar is drawn on
    standard error when it is a terminal (``progress`` forces it on or off).
    """
    folder = models_dir_from_env(models_dir)
    paths, failures = [], []
    for name in names if names is not None else MODEL_FILES:
        spec = MODEL_FILES[name]
        target = folder / name
        if target.is_file() and _is_intact(target, spec):
            logger.info("model %s already present", target)
            paths.append(target)
            continue
        try:
            folder.mkdir(parents=True, exist_ok=True)
            _download(spec, target, timeout=timeout, progress=progress)
        except (OSError, ModelFileError) as exc:
            failures.append(DownloadFailure(spec, target, _reason(exc)))
            continue
        paths.append(target)
    if failures:
        raise ModelDownloadError(failures)
    return paths


def _download(spec: ModelFile, target: Path, *, timeout: float, progress: bool | None) -> None:
    """Fetch one file to a temporary name beside ``target``, check it, rename it into place,
    so that an interrupted download never leaves a half file under the real name."""
    import requests
    from tqdm import tqdm

    show = sys.stderr.isatty() if progress is None else progress
    digest = hashlib.sha256()
    handle, temporary = tempfile.mkstemp(prefix=f".{spec.name}.", dir=target.parent)
    try:
        with (
            os.fdopen(handle, "wb") as out,
            requests.get(spec.url, stream=True, timeout=(CONNECT_TIMEOUT_S, timeout)) as response,
        ):
            response.raise_for_status()
            # Said once the server answered: without a network the one-line error is all.
            logger.info("downloading %s from %s", spec.name, spec.url)
            total = int(response.headers.get("content-length") or 0) or None
            with tqdm(
                total=total,
                unit="B",
                unit_scale=True,
                unit_divisor=1024,
                desc=spec.name,
                disable=not show,
                file=sys.stderr,
            ) as bar:
                for chunk in response.iter_content(chunk_size=1 << 20):
                    out.write(chunk)
                    digest.update(chunk)
                    bar.update(len(chunk))
        value = digest.hexdigest()
        if value not in spec.sha256:
            if spec.name not in _UNPINNED_DOWNLOADS:
                raise ModelFileError(f"the download has sha256 {value}, not the expected one")
            logger.warning("downloaded %s has unpinned sha256 %s", spec.name, value)
            target.with_name(target.name + SIDECAR_SUFFIX).write_text(f"{value}  {spec.name}\n")
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    logger.info("saved %s (sha256 %s)", target, value)


def _reason(exc: BaseException) -> str:
    """Why a download failed, in a few words (requests' own messages run to several lines)."""
    import requests

    if isinstance(exc, requests.HTTPError) and exc.response is not None:
        return f"download failed (HTTP {exc.response.status_code})"
    if isinstance(exc, requests.Timeout):
        return "download timed out"
    if isinstance(exc, requests.ConnectionError):
        text = str(exc)
        if "Name or service not known" in text or "NameResolution" in text:
            return "no network (the download's host name cannot be resolved)"
        return "no network (the download's server cannot be reached)"
    if isinstance(exc, requests.RequestException):
        return f"download failed ({type(exc).__name__})"
    if isinstance(exc, OSError):
        return f"cannot write the file ({exc.strerror or exc})"
    return str(exc)


def ensure_models(
    names: Iterable[str],
    models_dir: Path | None = None,
    *,
    download: bool = True,
    given_as: str = MODELS_DIR_ENV,
) -> list[Path]:
    """The paths of ``names``, downloading the missing ones first.

    Raises :class:`ModelFileError` with one line when a file is corrupt, or missing and cannot
    be downloaded: which file, where it was looked for, and how to provide it. ``given_as``
    names how ``models_dir`` was chosen (an option such as ``--models-dir``, by default the
    environment variable).
    """
    folder = models_dir_from_env(models_dir)
    names = list(dict.fromkeys(names))
    missing = [name for name in names if not (folder / name).is_file()]
    if missing and download:
        try:
            download_models(folder, missing)
        except ModelDownloadError as exc:
            failed = [failure.spec.name for failure in exc.failures]
            them = "them" if len(failed) > 1 else "it"
            raise ModelFileError(
                f"model file{'s' if len(failed) > 1 else ''} {', '.join(failed)} not found in "
                f"{folder} ({_where_from(models_dir, given_as)}) and "
                f"{exc.failures[0].reason}: copy {them} there (`attendance models download` "
                f"lists the URLs), or set {MODELS_DIR_ENV} to a folder that holds {them}"
            ) from None
    return [resolve_model_file(folder, name) for name in names]


def _where_from(models_dir: Path | None, given_as: str) -> str:
    if models_dir is not None:
        return f"from {given_as}"
    if os.environ.get(MODELS_DIR_ENV):
        return f"from {MODELS_DIR_ENV}"
    return f"the default; {MODELS_DIR_ENV} is not set"
