"""Entrypoint of the recognizer service, and the factories enrolment and other modes reuse."""

from __future__ import annotations

from dataclasses import dataclass

from pymongo.database import Database

from services.common.bus.base import Communicator
from services.common.bus.topology import FACES
from services.common.cache import KeyValueCache, RedisCache
from services.common.domain.open_set import OpenSetPolicy
from services.common.gallery import Gallery
from services.common.model_files import FACENET_CASIA, resolve_model_file
from services.common.runtime import configure_logging, connect_bus, run_worker
from services.common.storage.employees import EmployeeRepository
from services.common.storage.mongo import connect
from services.common.storage.mongo import is_reachable as _mongo_ok
from services.faces.factory import build_finder
from services.recognizer.embedding import FaceEmbedder
from services.recognizer.enrolment import Enroller
from services.recognizer.liveness_verdict import LivenessRule
from services.recognizer.open_set_calibration import CALIBRATIONS
from services.recognizer.service import Recognizer
from services.recognizer.settings import RecognizerSettings


def build_embedder(settings: RecognizerSettings) -> FaceEmbedder:
    weights = settings.facenet_weights
    if weights is None and settings.facenet_pretrained is None:
        weights = resolve_model_file(settings.attendance_models_dir, FACENET_CASIA)
    return FaceEmbedder(
        weights,
        None if weights is not None else settings.facenet_pretrained,
        device=settings.recognizer_device,
        threads=settings.recognizer_threads,
        backend=settings.embedding_backend,
        onnx_dir=settings.embedding_onnx_dir,
    )


def build_policy(settings: RecognizerSettings, model_id: str) -> OpenSetPolicy:
    """The decision rule: calibrated for the recipe, unless MATCH_THRESHOLD/MARGIN are set."""
    return OpenSetPolicy(
        model_id,
        CALIBRATIONS,
        target_fpir=settings.match_target_fpir,
        threshold=settings.threshold_override,
        margin=settings.margin_override,
    )


@dataclass
class RecognitionStack:
    embedder: FaceEmbedder
    gallery: Gallery
    enroller: Enroller
    policy: OpenSetPolicy


def build_stack(
    settings: RecognizerSettings, db: Database, cache: KeyValueCache
) -> RecognitionStack:
    embedder = build_embedder(settings)
    employees = EmployeeRepository(db)
    gallery = Gallery(cache, employees, embedder.model_id)
    policy = build_policy(settings, embedder.model_id)
    liveness = None
    if settings.liveness != "off":
        from services.faces.liveness import LivenessScorer

        # For the enrolment preview's hint only: camera faces are scored by the detector.
        liveness = LivenessScorer(settings.attendance_models_dir)
    enroller = Enroller(
        build_finder(settings),
        embedder,
        employees,
        gallery,
        settings.enrolment_max_photo_bytes,
        policy=policy,
        quality_gate=settings.quality_gate,
        liveness=liveness,
        liveness_threshold=settings.liveness_threshold,
    )
    return RecognitionStack(embedder, gallery, enroller, policy)


def build(
    settings: RecognizerSettings, bus: Communicator, db: Database, cache: KeyValueCache
) -> Recognizer:
    return recognizer_for(settings, bus, build_stack(settings, db, cache), cache)


def recognizer_for(
    settings: RecognizerSettings,
    bus: Communicator,
    stack: RecognitionStack,
    cache: KeyValueCache,
    *,
    serve_enrolments: bool = True,
) -> Recognizer:
    """A recognizer on already loaded models (the all-in-one mode shares them with the web)."""
    return Recognizer(
        bus,
        stack.embedder,
        stack.gallery,
        cache,
        policy=stack.policy,
        quality_gate=settings.quality_gate,
        batch_size=settings.recognizer_batch_size,
        sighting_cooldown=settings.sighting_cooldown,
        agreement_frames=settings.track_agreement_frames,
        fusion=settings.track_fusion,
        video_mirror=settings.recognizer_video_mirror,
        enroller=stack.enroller if serve_enrolments else None,
        liveness=settings.liveness,
        liveness_rule=LivenessRule.from_settings(settings),
    )


def connect_cache(settings: RecognizerSettings) -> RedisCache:
    cache = RedisCache(settings.redis_url, settings.attendance_bus_prefix)
    cache.wait_until_ready()
    return cache


def main(settings: RecognizerSettings | None = None) -> int:
    settings = settings or RecognizerSettings.from_env()
    configure_logging(settings.log_level, settings.log_json)
    db = connect(settings.mongo_url, settings.mongo_db)
    bus = connect_bus(settings)
    build(settings, bus, db, connect_cache(settings)).start()
    return run_worker(settings, bus, FACES, lambda: _mongo_ok(db))
