"""Employees and enrolment as the recognizer, the web and the storage all speak of them: names,
the refusals with their stable codes, and the face a photo would give."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from enum import StrEnum

from services.common.domain.errors import RefusedRequest

MAX_NAME_LENGTH = 120
# Values in every stored face vector (FaceNet's embedding).
EMBEDDING_SIZE = 512


class EnrolmentErrorCode(StrEnum):
    """Why an employee or enrolment request was refused; API clients act on these values."""

    NAME_REQUIRED = "name_required"
    NAME_TOO_LONG = "name_too_long"
    NAME_INVALID = "name_invalid"
    PHOTO_REQUIRED = "photo_required"
    DUPLICATE_NAME = "duplicate_name"
    FACE_ALREADY_ENROLLED = "face_already_enrolled"
    IMAGE_TOO_LARGE = "image_too_large"
    NOT_AN_IMAGE = "not_an_image"
    NO_FACE = "no_face"
    SEVERAL_FACES = "several_faces"
    FACE_TOO_SMALL = "face_too_small"
    FACE_BLURRED = "face_blurred"
    FACE_TURNED = "face_turned"
    NOT_FOUND = "not_found"
    PREVIEW_FAILED = "preview_failed"
    ENROLMENT_FAILED = "enrolment_failed"


# A picture refused for what it shows (not for who): another picture of the same face may do.
FACE_REFUSALS = frozenset(
    {
        EnrolmentErrorCode.NO_FACE,
        EnrolmentErrorCode.SEVERAL_FACES,
        EnrolmentErrorCode.NOT_AN_IMAGE,
        EnrolmentErrorCode.FACE_TOO_SMALL,
        EnrolmentErrorCode.FACE_BLURRED,
        EnrolmentErrorCode.FACE_TURNED,
    }
)


class EmployeeError(RefusedRequest):
    """A request about employees that cannot be honoured; ``code`` is stable for API clients."""


class EnrolmentError(EmployeeError):
    """A photo or name that cannot be enrolled; the message names the problem and the photo.

    ``conflicting_employee_id`` names the employee a refused face already belongs to.
    """

    def __init__(
        self, code: str, message: str, *, conflicting_employee_id: str | None = None
    ) -> None:
        super().__init__(code, message)
        self.conflicting_employee_id = conflicting_employee_id


@dataclass(frozen=True)
class FaceBox:
    """Where a face is, in pixels of its picture."""

    x: int
    y: int
    width: int
    height: int

    def as_dict(self) -> dict[str, int]:
        return {"x": self.x, "y": self.y, "width": self.width, "height": self.height}


@dataclass(frozen=True)
class FacePreview:
    """The face enrolment would take from a photo: its aligned crop and where it is."""

    face_jpeg: bytes
    box: FaceBox
    # Said when the photo looks like a photo of a screen or a print (enrolment still takes it).
    liveness_hint: str | None = None


def normalize_name(raw: str) -> str:
    """Trim and collapse whitespace; refuse empty, overlong or control-character names."""
    name = " ".join(unicodedata.normalize("NFC", raw or "").split())
    if not name:
        raise EmployeeError(EnrolmentErrorCode.NAME_REQUIRED, "a name is required")
    if len(name) > MAX_NAME_LENGTH:
        raise EmployeeError(
            EnrolmentErrorCode.NAME_TOO_LONG, f"a name has at most {MAX_NAME_LENGTH} characters"
        )
    if any(unicodedata.category(char).startswith("C") for char in name):
        raise EmployeeError(
            EnrolmentErrorCode.NAME_INVALID, "a name cannot contain control characters"
        )
    return name


def name_key(name: str) -> str:
    """The case-insensitive identity of a name ("Ana  Lopez" and "ana lopez" are the same)."""
    return normalize_name(name).casefold()
