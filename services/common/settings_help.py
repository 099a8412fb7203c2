"""The environment variables a command reads, for its ``--help``: generated from the settings
classes, so names and defaults cannot drift from the code.

The meaning of each variable is written once below; a test fails when a settings class gains a
field without one (the help falls back to the field's own description meanwhile).
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable
from datetime import time
from pathlib import Path

from pydantic_core import PydanticUndefined

from services.common.model_files import DEFAULT_MODELS_DIR
from services.common.redact import redact_url
from services.common.settings import CommonSettings, variable_name

HELP_WIDTH = 100
MEANINGS: dict[str, str] = {
    "RABBITMQ_URL": "RabbitMQ broker (the vhost is the URL path)",
    "REDIS_URL": "Redis: gallery cache, sighting cool-down, login throttle",
    "MONGO_URL": "MongoDB server: the system of record",
    "MONGO_DB": "MongoDB database name",
    "ATTENDANCE_BUS_PREFIX": "prefix of exchanges, queues and cache keys",
    "ATTENDANCE_MODELS_DIR": f"folder holding the model files (default {DEFAULT_MODELS_DIR})",
    "ATTENDANCE_MAX_ATTEMPTS": "failed attempts before a message is dead-lettered",
    "ATTENDANCE_SECRETS_DIR": "folder of secret files, one per secret setting named like it in "
    "lower case (web_secret_key), read when its variable is not set",
    "LOG_LEVEL": "DEBUG, INFO, WARNING or ERROR",
    "LOG_JSON": "log one JSON object per line",
    "HEALTH_PORT": "port of /healthz, /readyz and /metrics (0: none)",
    "CAPTURE_SOURCE": "camera index, video file, rtsp:// or http:// URL, or a folder of images",
    "CAMERA_ID": "camera name stored with every sighting",
    "CAPTURE_FPS": "frames published per second",
    "CAPTURE_JPEG_QUALITY": "JPEG quality of frames on the bus",
    "CAPTURE_MAX_SIDE": "longest side of frames on the bus, in pixels",
    "CAPTURE_LOOP": "replay a video file forever",
    "CAPTURE_RECONNECT_MAX_DELAY": "longest wait, in seconds, before reopening a lost stream",
    "DETECTOR_MODEL": "short (faces within ~2 m) or full range (small, distant faces)",
    "DETECTOR_MIN_CONFIDENCE": "detection score a face needs, 0 to 1",
    "DETECTOR_MIN_FACE_SIZE": "smallest face side, in pixels",
    "SNAPSHOT_MAX_SIDE": "longest side of the stored sighting pictures, in pixels",
    "MATCH_THRESHOLD": "cosine similarity a face needs to match an employee",
    "MATCH_MARGIN": "lead over the runner-up a match needs",
    "MATCH_TARGET_FPIR": "share of strangers let through when MATCH_THRESHOLD is unset "
    "(the threshold then follows the gallery's size)",
    "QUALITY_MIN_FACE_SIZE": "smallest face side judged or enrolled, in pixels",
    "QUALITY_MIN_SHARPNESS": "sharpness a face needs to be judged or enrolled",
    "QUALITY_MAX_TURN": "largest sideways turn of the head judged or enrolled, in eye distances",
    "RECOGNIZER_BATCH_SIZE": "faces embedded per batch",
    "RECOGNIZER_DEVICE": "torch device (cpu, cuda)",
    "RECOGNIZER_THREADS": "network threads of one recognizer (1: more processes scale better)",
    "FACENET_WEIGHTS": "another local FaceNet state_dict instead of the models folder's",
    "FACENET_PRETRAINED": "facenet-pytorch's own download: casia-webface or vggface2",
    "EMBEDDING_BACKEND": "what runs FaceNet: onnx (torch's vectors, faster), torch or onnx-int8",
    "EMBEDDING_ONNX_DIR": "where the exported and quantised ONNX graphs of FaceNet are kept",
    "SIGHTING_COOLDOWN": "seconds between two sightings of one person on one camera",
    "TRACK_AGREEMENT_FRAMES": "embedded faces of one track whose fused embedding must be "
    "accepted before it counts as someone",
    "TRACK_GAP_S": "seconds without a face of a track (capture time), or without a frame of its "
    "camera, that end the track",
    "TRACK_MAX_AGE_S": "seconds after which a track ends and the same face starts a new one "
    "(decided again)",
    "TRACK_MAX_EMBEDDINGS": "faces of one track sent for embedding, at most",
    "TRACK_FUSION": "how a track's embedded faces make one verdict: mean (quality-weighted) "
    "or best",
    "RECOGNIZER_VIDEO_MIRROR": "embed camera faces with their mirror image too (enrolment "
    "always does)",
    "LIVENESS": "off | flag | block: what a track judged a photo or a screen becomes",
    "LIVENESS_THRESHOLD": "score a face needs to count as live (the detector counts)",
    "LIVENESS_MIN_FACES": "scored faces a track needs before it is judged",
    "LIVENESS_MIN_LIVE_SHARE": "share of a track's scored faces that must be live",
    "LIVENESS_INTERVAL_S": "seconds between liveness scores of a track's unsent faces",
    "ENROLMENT_MAX_PHOTO_BYTES": "largest enrolment photo, in bytes",
    "SITE_TIMEZONE": "IANA time zone in which days are counted and times shown",
    "DAY_START_HOUR": "hour at which a working day starts",
    "DEPARTURE_MIN_GAP": "seconds after the arrival before a sighting counts as a departure",
    "SIGHTING_RETENTION_DAYS": "days sightings and their pictures are kept",
    "SIGHTING_MAX_AHEAD_HOURS": "a sighting stamped further in the future is dead-lettered",
    "SIGHTING_MAX_AGE_DAYS": "a sighting older than this is dead-lettered",
    "WEB_HOST": "address the dashboard listens on",
    "WEB_PORT": "port the dashboard listens on",
    "WEB_SECRET_KEY": "session signing key, 16+ random characters",
    "WEB_ADMIN_PASSWORD": "password of the 'admin' account, used on the first start only",
    "WEB_VIEWER_PASSWORD": "password of a 'viewer' account, used on the first start only",
    "WEB_MAX_UPLOAD_BYTES": "largest upload, in bytes",
    "WEB_MAX_FRAME_SIDE": "longest side of a kiosk frame, in pixels",
    "WEB_MAX_CONCURRENT_FRAMES": "kiosk frames decoded at once",
    "WEB_MAX_STREAMS": "live views and event streams open at once (below WEB_THREADS)",
    "WEB_SESSION_HOURS": "how long a login lasts",
    "WEB_COOKIE_SECURE": "send cookies over HTTPS only (behind a TLS proxy)",
    "WEB_THREADS": "request threads of the web server",
    "WEB_TRUSTED_PROXY": "address of a reverse proxy whose X-Forwarded-* headers are believed",
    "ENROLMENT_TIMEOUT": "seconds the web waits for a recognizer to enrol a photo",
    "PRESENCE_TIMEOUT": "seconds someone counts as In after being seen",
    "WORK_DAYS": "working weekdays (mon-fri, or mon,tue,thu)",
    "WORK_START": "expected start of the working day",
    "WORK_END": "expected end of the working day",
    "LATE_GRACE_MINUTES": "minutes after WORK_START before an arrival is late",
    "UNKNOWN_GROUP_GAP": "seconds between unknown sightings that make them one visitor",
    "GALLERY_MODEL_ID": "the recognizers' model id (set by attendance run)",
}


def environment_help(*classes: type[CommonSettings], only: Iterable[str] | None = None) -> str:
    """``environment:`` and one wrapped line per variable the classes read (first class
    first, each variable once; ``only`` keeps those a command really uses): name, meaning,
    default."""
    kept = None if only is None else set(only)
    rows: dict[str, str] = {}
    for cls in classes:
        for name, field in cls.model_fields.items():
            variable = variable_name(name)
            if variable in rows or (kept is not None and variable not in kept):
                continue
            meaning = MEANINGS.get(variable) or field.description or ""
            rows[variable] = f"{meaning} [{shown_default(field.default)}]".lstrip()
    column = max(len(variable) for variable in rows) + 4
    lines = ["environment (default in brackets):"]
    for variable, text in rows.items():
        lines.extend(
            textwrap.wrap(
                text,
                HELP_WIDTH,
                initial_indent=f"  {variable}".ljust(column),
                subsequent_indent=" " * column,
            )
        )
    return "\n".join(lines)


def shown_default(default: object) -> str:
    if default is PydanticUndefined:
        return "required"
    if default is None:
        return "unset"
    if isinstance(default, bool):
        return "true" if default else "false"
    if isinstance(default, time):
        return default.strftime("%H:%M")
    if isinstance(default, float) and default.is_integer():
        return str(int(default))
    if isinstance(default, Path):
        return str(default)
    return redact_url(str(default))
