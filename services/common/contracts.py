"""Message contracts shared by every service.

Each message is a frozen pydantic model with an explicit ``schema_version``. A consumer that
receives a version it does not know refuses the message (it is dead-lettered with the reason)
instead of guessing at its meaning. Binary fields travel as base64 inside JSON.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    TypeAdapter,
    model_validator,
)

SCHEMA_VERSION: Literal[1] = 1


def _require_utc(value: datetime) -> datetime:
    # Naive datetimes are ambiguous across cameras in different zones: refuse them.
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("timestamp must carry a time zone (UTC expected)")
    return value.astimezone(UTC)


UtcDatetime = Annotated[datetime, AfterValidator(_require_utc)]
Identifier = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:@/-]+$")]


def new_id() -> str:
    return uuid.uuid4().hex


def utc_now() -> datetime:
    return datetime.now(UTC)


class Message(BaseModel):
    """Base of every message on the bus."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        ser_json_bytes="base64",
        val_json_bytes="base64",
    )
    kind: ClassVar[str]
    schema_version: Literal[1] = SCHEMA_VERSION

    def to_bytes(self) -> bytes:
        return self.model_dump_json().encode()

    @classmethod
    def from_bytes(cls, body: bytes) -> Message:
        return cls.model_validate_json(body)


class BoundingBox(BaseModel):
    """A face box in pixels of the frame it was found in."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    x: int
    y: int
    width: Annotated[int, Field(gt=0)]
    height: Annotated[int, Field(gt=0)]

    @classmethod
    def of(cls, box: tuple[int, int, int, int]) -> BoundingBox:
        """From the (x, y, width, height) tuples the detector works with."""
        x, y, width, height = box
        return cls(x=x, y=y, width=width, height=height)


class FrameMessage(Message):
    """One JPEG frame from a camera."""

    kind: ClassVar[str] = "frame"
    frame_id: Identifier
    camera_id: Identifier
    captured_at: UtcDatetime
    width: Annotated[int, Field(gt=0)]
    height: Annotated[int, Field(gt=0)]
    jpeg: bytes


def _omitted_when_unset(value: object) -> bool:
    return value is None or value is False


# Fields added to a version after it shipped carry this: left out of the JSON while unset, so a
# consumer built before them (``extra="forbid"``) still reads every message that does not use
# them, and refuses, rather than misreads, one that does.
AddedLater = Field(exclude_if=_omitted_when_unset)


class FaceQualityReport(BaseModel):
    """How well a face can be judged (services/faces/quality.py has the definitions)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    # Shorter side of the face box, in pixels of the frame.
    face_size: Annotated[float, Field(ge=0.0)]
    # High-frequency share of the aligned crop's face area (blur lowers it).
    sharpness: Annotated[float, Field(ge=0.0)]
    # Sideways offset of the nose tip from the eyes' midpoint, in eye distances (0: frontal).
    turn: Annotated[float, Field(ge=0.0)]
    # Height of the nose tip between the eye line (0) and the mouth (1); ~0.5 when level.
    nose_height: float


class TrackLiveness(BaseModel):
    """A track's liveness so far, as its detector measured it: every face of the track the
    quality gate let through was scored (services/faces/liveness.py), sent or not.

    The detector sends only a few faces of a track, but judges liveness on all of them; this
    summary travels with each face sent and with the track's end, so that the recognizer
    decides on every scored face, not on the few it embeds.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    # Faces of the track scored, and how many of them reached ``threshold``.
    scored: Annotated[int, Field(ge=1)]
    live: Annotated[int, Field(ge=0)]
    # Mean of the scores, each in [0, 1] (the mean of the two networks' "live" probabilities).
    mean_score: Annotated[float, Field(ge=0.0, le=1.0)]
    # The detector's LIVENESS_THRESHOLD, at which ``live`` was counted.
    threshold: Annotated[float, Field(ge=0.0, le=1.0)]

    @model_validator(mode="after")
    def _live_faces_were_scored(self) -> TrackLiveness:
        if self.live > self.scored:
            raise ValueError(f"{self.live} live faces of {self.scored} scored")
        return self


class FaceMessage(Message):
    """One detected, aligned face and the frame snapshot it came from."""

    kind: ClassVar[str] = "face"
    face_id: Identifier
    frame_id: Identifier
    camera_id: Identifier
    captured_at: UtcDatetime
    box: BoundingBox
    # The same person walking past one camera keeps one track id from frame to frame.
    track_id: Identifier
    detection_score: Annotated[float, Field(ge=0.0, le=1.0)]
    crop_size: Annotated[int, Field(gt=0)]
    # Raw RGB pixels (crop_size x crop_size x 3): lossless, so a face seen by a camera is
    # embedded from exactly the pixels an enrolment photo of it would give.
    crop_rgb: bytes
    # A reduced JPEG of the whole frame: the attendance picture.
    snapshot_jpeg: bytes
    # Set by detectors that measure it; a face without it is judged (older detectors).
    quality: Annotated[FaceQualityReport | None, AddedLater] = None
    # This face's liveness score in [0, 1]; None: not scored (liveness off, older detectors).
    liveness: Annotated[Annotated[float, Field(ge=0.0, le=1.0)] | None, AddedLater] = None
    # The track's liveness up to and including this face (None: not scored).
    track_liveness: Annotated[TrackLiveness | None, AddedLater] = None


TrackEndReason = Literal["gap", "max_age", "idle", "stopped"]


class TrackEndMessage(Message):
    """The end of a track: the detector will send no more faces of it.

    Added after version 1 shipped, as a message of its own on the faces queue (so that it comes
    after the track's faces): a recognizer built before it refuses it (dead-lettered with the
    reason) and keeps reading faces. ``reason``: ``gap``, no face of the track in the camera's
    later frames for the detector's gap (by capture time); ``max_age``, the track lasted the
    longest a track may (a person who stays is decided on again); ``idle``, the camera sent no
    frame for that long (by the detector's clock); ``stopped``, the detector stopped.
    """

    kind: ClassVar[str] = "track_end"
    camera_id: Identifier
    track_id: Identifier
    # Capture time of the track's last face: the end is judged by the camera's clock.
    last_seen_at: UtcDatetime
    # Faces of the track the detector sent for recognition.
    faces_sent: Annotated[int, Field(ge=0)]
    reason: TrackEndReason
    # The track's final liveness, every scored face counted (None: not scored).
    liveness: Annotated[TrackLiveness | None, AddedLater] = None


def _face_event_tag(value: Any) -> str | None:
    """Which message a body of the faces queue is: a face has a face id, a track end has not."""
    fields = value if isinstance(value, dict) else vars(value)
    if "face_id" in fields:
        return "face"
    if "reason" in fields and "track_id" in fields:
        return "track_end"
    return None


_FACE_EVENT = TypeAdapter(
    Annotated[
        Annotated[FaceMessage, Tag("face")] | Annotated[TrackEndMessage, Tag("track_end")],
        Discriminator(_face_event_tag),
    ]
)


class FaceEvent:
    """What the faces queue carries: a :class:`FaceMessage` or a :class:`TrackEndMessage`.

    Not a message itself: the channel's type, which reads a body as whichever of the two it is.
    """

    kind: ClassVar[str] = "face_event"

    @classmethod
    def model_validate_json(cls, body: bytes | str) -> FaceMessage | TrackEndMessage:
        return _FACE_EVENT.validate_json(body)


LivenessVerdict = Literal["live", "attack", "undecided"]
# What was done about an attack track: ``blocked``, no attendance (the sighting names nobody);
# ``flagged``, attendance recorded but marked.
SpoofAction = Literal["blocked", "flagged"]


class SightingLiveness(BaseModel):
    """The liveness verdict on a sighting's track (services/recognizer/liveness_verdict.py)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    verdict: LivenessVerdict
    # The mean score of the track's scored faces, and how many there were.
    mean_score: Annotated[float, Field(ge=0.0, le=1.0)]
    faces_scored: Annotated[int, Field(ge=1)]
    # Set on attack tracks only.
    action: SpoofAction | None = None
    # A blocked sighting names nobody (it must never count as the person); whom its face
    # resembled is told here, for the spoof attempt.
    resembled_employee_id: Identifier | None = None
    resembled_employee_name: str | None = None

    @model_validator(mode="after")
    def _an_action_only_for_attacks(self) -> SightingLiveness:
        if (self.action is not None) != (self.verdict == "attack"):
            raise ValueError(f"action {self.action!r} does not go with verdict {self.verdict!r}")
        return self


class SightingMessage(Message):
    """A recognised (or unrecognised) face: the input of the attendance rules.

    ``liveness`` (added later) is the track's liveness verdict when it was scored. A sighting
    whose ``liveness.action`` is ``blocked`` is a spoof attempt, not a sighting: it names no
    employee and makes no attendance; ``flagged`` is an ordinary sighting that is marked.
    """

    kind: ClassVar[str] = "sighting"
    # Derived from the face id, so a redelivered face yields the same sighting id.
    sighting_id: Identifier
    face_id: Identifier
    frame_id: Identifier
    camera_id: Identifier
    seen_at: UtcDatetime
    box: BoundingBox
    track_id: Identifier | None = None
    employee_id: Identifier | None = None
    employee_name: str | None = None
    similarity: float | None = None
    runner_up_similarity: float | None = None
    model_id: str
    snapshot_jpeg: bytes
    face_jpeg: bytes
    liveness: Annotated[SightingLiveness | None, AddedLater] = None

    @model_validator(mode="after")
    def _a_blocked_sighting_names_nobody(self) -> SightingMessage:
        if self.is_blocked and self.employee_id is not None:
            raise ValueError("a blocked (spoof) sighting must not name an employee")
        return self

    @property
    def is_known(self) -> bool:
        return self.employee_id is not None

    @property
    def is_attack(self) -> bool:
        return self.liveness is not None and self.liveness.verdict == "attack"

    @property
    def is_blocked(self) -> bool:
        return self.liveness is not None and self.liveness.action == "blocked"


class EnrolmentRequest(Message):
    """Register a new employee (``employee_id`` unset) or add photos to an existing one.

    With ``preview`` the recognizer only detects and aligns the face of the one photo, as
    enrolment would, and answers with it: nothing is embedded or stored.

    A photo whose face is already enrolled as another employee is refused unless
    ``allow_duplicate_face``. After ``expires_at`` the requester no longer waits for the answer:
    the recognizer then does nothing for the request, so that what the requester reported as
    timed out never happens later.
    """

    kind: ClassVar[str] = "enrolment_request"
    request_id: Identifier
    name: Annotated[str, Field(min_length=1, max_length=120)] | None = None
    employee_id: Identifier | None = None
    photos: Annotated[list[bytes], Field(min_length=1, max_length=20)]
    preview: Annotated[bool, AddedLater] = False
    allow_duplicate_face: Annotated[bool, AddedLater] = False
    expires_at: Annotated[UtcDatetime | None, AddedLater] = None

    @model_validator(mode="after")
    def _a_preview_shows_one_photo(self) -> EnrolmentRequest:
        if self.preview and len(self.photos) != 1:
            raise ValueError(f"a preview takes exactly one photo, not {len(self.photos)}")
        return self


class EnrolmentResult(Message):
    """The answer to an :class:`EnrolmentRequest`.

    A preview's answer carries the aligned face crop (JPEG, a few kB) and its box in the photo.
    """

    kind: ClassVar[str] = "enrolment_result"
    request_id: Identifier
    ok: bool
    employee_id: Identifier | None = None
    name: str | None = None
    embeddings_added: int = 0
    error_code: str | None = None
    error: str | None = None
    face_jpeg: Annotated[bytes | None, AddedLater] = None
    face_box: Annotated[BoundingBox | None, AddedLater] = None
    # With error_code "face_already_enrolled": the employee the face already belongs to.
    conflicting_employee_id: Annotated[Identifier | None, AddedLater] = None
    # A preview's liveness score of the photo's face, and a hint when it looks like a photo
    # of a screen or a print (enrolment photos are never refused for it: ID photos often are).
    liveness_score: Annotated[Annotated[float, Field(ge=0.0, le=1.0)] | None, AddedLater] = None
    liveness_hint: Annotated[str | None, AddedLater] = None


class AttendanceEvent(Message):
    """Published by the recorder after it stored a known sighting (drives live views).

    ``refused`` (added later; a consumer built before it refuses the event rather than take
    it for attendance): a track of the employee's face that the liveness check blocked, so a
    kiosk does not greet it; ``record_id`` is then the spoof attempt's id, and no attendance
    was recorded.
    """

    kind: ClassVar[str] = "attendance_event"
    sighting_id: Identifier
    record_id: str
    employee_id: Identifier
    employee_name: str
    camera_id: Identifier
    seen_at: UtcDatetime
    day: str
    event: Literal["arrival", "departure", "seen", "refused"]
