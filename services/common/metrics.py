"""Prometheus metrics of the pipeline, defined once so every service reports the same names."""

from prometheus_client import Counter, Gauge, Histogram

FRAMES_PUBLISHED = Counter("attendance_frames_published_total", "Frames published", ["camera"])
FRAMES_PROCESSED = Counter("attendance_frames_processed_total", "Frames run through detection")
FACES_DETECTED = Counter("attendance_faces_detected_total", "Faces found in frames")
FACES_EMBEDDED = Counter("attendance_faces_embedded_total", "Faces embedded by FaceNet")
RECOGNITION_SECONDS = Histogram(
    "attendance_recognition_seconds", "Time to embed and match one batch of faces"
)
SIGHTINGS_PUBLISHED = Counter(
    "attendance_sightings_published_total", "Sightings published", ["outcome"]
)
RECORDS_WRITTEN = Counter("attendance_records_written_total", "Sightings folded into records")
SIGHTINGS_STORED = Counter("attendance_sightings_stored_total", "Sightings stored", ["outcome"])
QUEUE_DEPTH = Gauge("attendance_queue_depth", "Messages waiting in a work queue", ["queue"])
MESSAGES_DEAD_LETTERED = Counter(
    "attendance_messages_dead_lettered_total", "Messages given up on", ["channel"]
)
HANDLER_ERRORS = Counter(
    "attendance_handler_errors_total", "Messages whose handler failed (retried)", ["channel"]
)
SPOOF_ATTEMPTS = Counter(
    "attendance_spoof_attempts_total",
    "Tracks the liveness check judged a photo or a screen (one per stored spoof attempt)",
    ["camera", "action"],
)
