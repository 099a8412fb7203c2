"""The model files the pipeline needs: where they are, whether they are intact, how to get them.

Every service that loads a model asks :func:`resolve_model_file` for its path. A missing or
corrupt file fails at start-up with one message that names the file, the folder searched and
the two ways to fix it, instead of a stack trace from deep inside MediaPipe or torch.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import threading
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
}

# Files downloaded from the official URLs differ byte-wise from the reference copies (see
# ModelFile.sha256) and their hashes could not be pinned here. download_models() records the
# hash of what it fetched over HTTPS in a `<name>.sha256` file beside it; such a file is
# accepted when it still has that hash, so later corruption is caught all the same.
_UNPINNED_DOWNLOADS = frozenset({SHORT_RANGE_DETECTOR, FACENET_CASIA})
SIDECAR_SUFFIX = ".sha256"


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


def check_models(models_dir: Path | None = None) -> list[ModelStatus]:
    """One status per known model file, for `attendance models check` and health output."""
    folder = models_dir_from_env(models_dir)
    statuses = []
    for name, spec in MODEL_FILES.items():
        path = folder / name
        if not path.is_file():
            statuses.append(ModelStatus(name, path, "missing", None, f"not found; {HOW_TO_GET}"))
            continue
        digest = sha256_of(path)
        if digest in spec.sha256 or (
            name in _UNPINNED_DOWNLOADS and _recorded_hash(path) == digest
        ):
            statuses.append(ModelStatus(name, path, "ok", digest, spec.description))
        else:
            statuses.append(
                ModelStatus(name, path, "unknown-hash", digest, "hash differs from reference")
            )
    return statuses


def download_models(models_dir: Path | None = None, *, timeout: float = 60.0) -> list[Path]:
    """Download every missing model file into the folder; existing intact files are kept.

    Each file is written to a temporary name in the same folder and renamed into place only
    when complete (and, where the hash is pinned, verified), so an interrupted download never
    leaves a half file under the real name.
    """
    import requests

    folder = models_dir_from_env(models_dir)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, spec in MODEL_FILES.items():
        target = folder / name
        if target.is_file() and sha256_of(target) in spec.sha256:
            logger.info("model %s already present", target)
            paths.append(target)
            continue
        logger.info("downloading %s from %s", name, spec.url)
        digest = hashlib.sha256()
        handle, temporary = tempfile.mkstemp(prefix=f".{name}.", dir=folder)
        try:
            with (
                os.fdopen(handle, "wb") as out,
                requests.get(spec.url, stream=True, timeout=timeout) as response,
            ):
                response.raise_for_status()
                for chunk in response.iter_content(chunk_size=1 << 20):
                    out.write(chunk)
                    digest.update(chunk)
            value = digest.hexdigest()
            if value not in spec.sha256 and name not in _UNPINNED_DOWNLOADS:
                raise ModelFileError(
                    f"download of {name} from {spec.url} has sha256 {value}, expected "
                    f"{spec.sha256[0]}: refusing it"
                )
            if value not in spec.sha256:
                logger.warning("downloaded %s has unpinned sha256 %s", name, value)
                sidecar = target.with_name(target.name + SIDECAR_SUFFIX)
                sidecar.write_text(f"{value}  {name}\n")
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        paths.append(target)
    return paths
