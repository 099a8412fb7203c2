"""Registering employees from photos, through exactly the code that handles camera frames."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

import numpy as np

from services.common.contracts import BoundingBox, EnrolmentRequest, EnrolmentResult, utc_now
from services.common.domain.enrolment import (
    EmployeeError,
    EnrolmentError,
    EnrolmentErrorCode,
    FaceBox,
    FacePreview,
    normalize_name,
)
from services.common.domain.open_set import OpenSetPolicy
from services.common.gallery import Gallery
from services.common.images import ImageError, decode_image, encode_jpeg, fit_within
from services.common.storage.employees import Employee, EmployeeRepository, NewFace
from services.faces.finder import FaceFinder, FoundFace
from services.faces.quality import QualityGate, assess
from services.recognizer.embedding import FaceEmbedder
from services.recognizer.matching import DEFAULT_THRESHOLD, closest_employee

if TYPE_CHECKING:
    from services.faces.liveness import LivenessScorer

logger = logging.getLogger(__name__)

# A face less than half as wide as the main one is a bystander in the background (seen in the
# labelled photos), not a second person posing; it does not make the photo ambiguous.
BYSTANDER_RATIO = 0.5
STORED_PHOTO_MAX_SIDE = 1024
# The stored face crop and its preview are the same JPEG, so what is shown is what is kept.
FACE_JPEG_QUALITY = 92
# What a preview says of a photo whose face the liveness check would not take for a live one.
# Enrolment photos are never refused for it (ID photos are often photos of photos), and the
# reason for saying it: a photo of a print or a screen is a poorer likeness than one taken of
# the person.
LOOKS_LIKE_A_REPRODUCTION = (
    "this photo looks like a photo of a screen or a print; it can be enrolled, but a photo "
    "taken of the person recognises them better"
)


class EnrolmentExpired(Exception):
    """The requester stopped waiting: nothing may be stored for the request any more."""


class Enroller:
    def __init__(
        self,
        finder: FaceFinder,
        embedder: FaceEmbedder,
        employees: EmployeeRepository,
        gallery: Gallery,
        max_photo_bytes: int = 10 * 1024 * 1024,
        *,
        match_threshold: float = DEFAULT_THRESHOLD,
        policy: OpenSetPolicy | None = None,
        quality_gate: QualityGate | None = None,
        clock: Callable[[], datetime] = utc_now,
        liveness: LivenessScorer | None = None,
        liveness_threshold: float = 0.5,
    ) -> None:
        """``policy`` (the recognizer's) gives the threshold above which a face counts as
        already enrolled; without it, ``match_threshold``. Photos whose face ``quality_gate``
        refuses are refused (face_too_small, face_blurred, face_turned). With ``liveness``, a
        preview scores the photo's face and says when it is below ``liveness_threshold``
        (never a refusal)."""
        self._finder = finder
        self._embedder = embedder
        self._employees = employees
        self._gallery = gallery
        self._max_photo_bytes = max_photo_bytes
        self._match_threshold = match_threshold
        self._policy = policy
        self._quality_gate = quality_gate
        self._clock = clock
        self._liveness = liveness
        self._liveness_threshold = liveness_threshold

    def enroll(
        self,
        name: str,
        photos: Sequence[bytes],
        *,
        allow_duplicate_face: bool = False,
        expires_at: datetime | None = None,
    ) -> Employee:
        """Register a new employee; nothing is stored unless every photo has exactly one face
        and, unless ``allow_duplicate_face``, no face is already another employee's. Nothing
        is stored after ``expires_at`` either (:class:`EnrolmentExpired`)."""
        name = normalize_name(name)
        if self._employees.find_by_name(name) is not None:
            raise EnrolmentError(
                EnrolmentErrorCode.DUPLICATE_NAME,
                f"an employee named {name!r} is already registered",
            )
        faces = self.faces_from_photos(photos)
        if not allow_duplicate_face:
            self._refuse_faces_of_others(faces, owner=None)
        self._still_awaited(expires_at)
        employee = self._employees.create(name, faces, self._embedder.model_id)
        self._gallery.changed()
        logger.info(
            "enrolled %s (%s) from %d photo(s)", employee.name, employee.employee_id, len(faces)
        )
        return employee

    def add_photos(
        self,
        employee_id: str,
        photos: Sequence[bytes],
        *,
        allow_duplicate_face: bool = False,
        expires_at: datetime | None = None,
    ) -> Employee:
        """Add photos to an employee, on the same terms as :meth:`enroll`."""
        if self._employees.get(employee_id) is None:
            raise EnrolmentError(EnrolmentErrorCode.NOT_FOUND, f"no employee with id {employee_id}")
        faces = self.faces_from_photos(photos)
        if not allow_duplicate_face:
            self._refuse_faces_of_others(faces, owner=employee_id)
        self._still_awaited(expires_at)
        employee = self._employees.add_faces(employee_id, faces, self._embedder.model_id)
        self._gallery.changed()
        return employee

    def _refuse_faces_of_others(self, faces: Sequence[NewFace], owner: str | None) -> None:
        """A face the recognizer would take for another employee must not be enrolled again:
        the two would tie, and the margin would then refuse both people at every camera."""
        snapshot = self._gallery.current()
        threshold = (
            self._match_threshold
            if self._policy is None
            else self._policy.rule_for(len(snapshot.employee_ids)).threshold
        )
        for number, face in enumerate(faces, 1):
            closest = closest_employee(face.embedding, snapshot.matrix, excluding=owner)
            if closest is None or closest.similarity < threshold:
                continue
            name = snapshot.names.get(closest.employee_id, "an employee")
            raise EnrolmentError(
                EnrolmentErrorCode.FACE_ALREADY_ENROLLED,
                f"photo {number}: this face is already enrolled as {name} "
                f"(id {closest.employee_id}; similarity {closest.similarity:.2f}, match "
                f"threshold {threshold:.2f})",
                conflicting_employee_id=closest.employee_id,
            )

    def _still_awaited(self, expires_at: datetime | None) -> None:
        now = self._clock()
        if expires_at is not None and now >= expires_at:
            raise EnrolmentExpired(
                f"the requester stopped waiting at {expires_at.isoformat()} "
                f"({(now - expires_at).total_seconds():.1f}s ago)"
            )

    def faces_from_photos(self, photos: Sequence[bytes]) -> list[NewFace]:
        if not photos:
            raise EnrolmentError(
                EnrolmentErrorCode.PHOTO_REQUIRED, "at least one photo is required"
            )
        found = [self._single_face(photo, number) for number, photo in enumerate(photos, 1)]
        embeddings = self._embedder.embed([face.crop for _, face in found])
        return [
            NewFace(
                photo_jpeg=encode_jpeg(fit_within(rgb, STORED_PHOTO_MAX_SIDE), quality=90),
                face_jpeg=encode_jpeg(face.crop, quality=FACE_JPEG_QUALITY),
                embedding=embedding,
            )
            for (rgb, face), embedding in zip(found, embeddings, strict=True)
        ]

    def preview(self, photo: bytes) -> FacePreview:
        """Detect and align the face of ``photo`` exactly as :meth:`enroll` would, with the
        same errors; nothing is embedded or stored."""
        return self.preview_with_liveness(photo)[0]

    def preview_with_liveness(self, photo: bytes) -> tuple[FacePreview, float | None, str | None]:
        """The preview, the face's liveness score (the whole photo as the frame; None without
        a scorer) and the hint when it looks like a screen or a print (else None)."""
        rgb, face = self._single_face(photo, 1)
        preview = FacePreview(
            face_jpeg=encode_jpeg(face.crop, quality=FACE_JPEG_QUALITY),
            box=FaceBox(*face.box),
        )
        if self._liveness is None:
            return preview, None, None
        [score] = self._liveness.score(rgb, [face.box])
        hint = LOOKS_LIKE_A_REPRODUCTION if score < self._liveness_threshold else None
        return preview, score, hint

    def _single_face(self, photo: bytes, number: int) -> tuple[np.ndarray, FoundFace]:
        where = f"photo {number}"
        if len(photo) > self._max_photo_bytes:
            raise EnrolmentError(
                EnrolmentErrorCode.IMAGE_TOO_LARGE,
                f"{where} is {len(photo) / 1_048_576:.1f} MB; the limit is "
                f"{self._max_photo_bytes / 1_048_576:.0f} MB",
            )
        try:
            rgb = decode_image(photo)
        except ImageError as exc:
            raise EnrolmentError(EnrolmentErrorCode.NOT_AN_IMAGE, f"{where}: {exc}") from exc
        faces = self._finder.find(rgb, thorough=True)
        if not faces:
            raise EnrolmentError(
                EnrolmentErrorCode.NO_FACE,
                f"{where}: no face found; use a well-lit, front-facing photo",
            )
        main_side = faces[0].box[2]
        people = [face for face in faces if face.box[2] >= BYSTANDER_RATIO * main_side]
        if len(people) > 1:
            raise EnrolmentError(
                EnrolmentErrorCode.SEVERAL_FACES,
                f"{where}: {len(people)} faces found; use a photo of this person alone",
            )
        self._judgeable(faces[0], where)
        return rgb, faces[0]

    def _judgeable(self, face: FoundFace, where: str) -> None:
        """A face the recognizer would not judge at a camera is no use in the gallery."""
        if self._quality_gate is None:
            return
        quality = assess(face.box, face.keypoints, face.score, face.crop)
        refusal = self._quality_gate.refusal(quality)
        if refusal is not None:
            raise EnrolmentError(refusal.code, f"{where}: {refusal.reason}")

    def handle(self, request: EnrolmentRequest) -> EnrolmentResult | None:
        """Serve one enrolment request from the bus; errors become a result, never a crash.

        A request whose requester stopped waiting gets no answer and changes nothing, whether
        it expired in the queue or while its photos were being processed.
        """
        try:
            self._still_awaited(request.expires_at)
            if request.preview:
                preview, score, hint = self.preview_with_liveness(request.photos[0])
                return EnrolmentResult(
                    request_id=request.request_id,
                    ok=True,
                    face_jpeg=preview.face_jpeg,
                    face_box=BoundingBox(**preview.box.as_dict()),
                    liveness_score=score,
                    liveness_hint=hint,
                )
            if request.employee_id:
                employee = self.add_photos(
                    request.employee_id,
                    request.photos,
                    allow_duplicate_face=request.allow_duplicate_face,
                    expires_at=request.expires_at,
                )
                added = len(request.photos)
            else:
                employee = self.enroll(
                    request.name or "",
                    request.photos,
                    allow_duplicate_face=request.allow_duplicate_face,
                    expires_at=request.expires_at,
                )
                added = len(employee.photo_ids)
        except EnrolmentExpired as exc:
            logger.warning("enrolment request %s skipped: %s", request.request_id, exc)
            return None
        except EmployeeError as exc:
            return EnrolmentResult(
                request_id=request.request_id,
                ok=False,
                error_code=exc.code,
                error=str(exc),
                conflicting_employee_id=getattr(exc, "conflicting_employee_id", None),
            )
        return EnrolmentResult(
            request_id=request.request_id,
            ok=True,
            employee_id=employee.employee_id,
            name=employee.name,
            embeddings_added=added,
        )
