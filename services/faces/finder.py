"""The one code path from an RGB picture to aligned face crops, for camera frames and photos alike.

Two stages:

1. **Candidates.** BlazeFace on the whole image. For still photos (``thorough=True``) weak
   candidates are kept too, and the image is also searched with a black border around it:
   BlazeFace expects some context around a face and often scores a tight crop (a 96x96 or
   150x150 face photo) low or misses it entirely.
2. **Refinement.** Each candidate is cut out with as much context again as the face
   (a square twice the box side), resized to :data:`REFINE_SIZE` pixels and detected again.
   At that scale the face fills the detector's 128-px input the way it was trained for, so
   the keypoints come out more precise, and a background pattern that looked like a face at
   low resolution (a building, a dog) scores low and is dropped. On the labelled photos every
   real face scored >= 0.75 on refinement, every false candidate <= 0.70.

Both paths end in the same :func:`~services.faces.alignment.align_face` call, so a face
enrolled from a photo and the same face seen by a camera give comparable crops.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import cv2
import numpy as np

from services.faces.alignment import (
    DEFAULT_CROP_SIZE,
    DEFAULT_TEMPLATE,
    AlignmentTemplate,
    align_face,
)
from services.faces.detection import (
    CANDIDATE_MIN_CONFIDENCE,
    DetectedFace,
    FaceDetector,
)
from services.faces.geometry import iou

logger = logging.getLogger(__name__)

REFINE_SIZE = 192
# Context around the face in the refinement patch, tried in order until the face is confirmed:
# 2.5x the box gave the most precise keypoints (best verification accuracy); a face whose
# wider patch takes in distracting surroundings (a profile against a busy background) is
# confirmed at 2x.
REFINE_CONTEXTS = (2.5, 2.0)
DEFAULT_MIN_REFINED_SCORE = 0.75
# Border added around a still photo for the second candidate search, as a share of its side.
THOROUGH_PADDING = 0.25
DUPLICATE_IOU = 0.4


@dataclass(frozen=True)
class FoundFace:
    """A face ready for embedding: where it is in the image and its aligned crop."""

    box: tuple[int, int, int, int]
    score: float
    keypoints: tuple[tuple[float, float], ...]
    crop: np.ndarray

    @property
    def detection(self) -> DetectedFace:
        return DetectedFace(box=self.box, score=self.score, keypoints=self.keypoints)


def square_patch(
    rgb: np.ndarray, centre: tuple[float, float], side: float, out_size: int
) -> tuple[np.ndarray, float, float, float]:
    """A square of ``side`` image pixels around ``centre`` resized to ``out_size``.

    Outside the image is black. Returns the patch and (scale, dx, dy) such that patch pixel
    ``p`` is image pixel ``p / scale + (dx, dy)``.
    """
    height, width = rgb.shape[:2]
    left = round(centre[0] - side / 2)
    top = round(centre[1] - side / 2)
    size = max(1, round(side))
    x0, y0 = max(left, 0), max(top, 0)
    x1, y1 = min(left + size, width), min(top + size, height)
    patch = np.zeros((size, size, 3), dtype=np.uint8)
    if x1 > x0 and y1 > y0:
        patch[y0 - top : y1 - top, x0 - left : x1 - left] = rgb[y0:y1, x0:x1]
    # INTER_AREA when shrinking: a 1000-px face squeezed to 96 px without it aliases.
    interpolation = cv2.INTER_AREA if size > out_size else cv2.INTER_LINEAR
    resized = cv2.resize(patch, (out_size, out_size), interpolation=interpolation)
    return resized, out_size / size, float(left), float(top)


class FaceFinder:
    """Detect, refine and align faces. Not thread-safe (it owns a :class:`FaceDetector`)."""

    def __init__(
        self,
        detector: FaceDetector,
        crop_size: int = DEFAULT_CROP_SIZE,
        *,
        min_refined_score: float = DEFAULT_MIN_REFINED_SCORE,
        template: AlignmentTemplate = DEFAULT_TEMPLATE,
        refine: bool = True,
        refine_contexts: tuple[float, ...] = REFINE_CONTEXTS,
        refine_flip: bool = True,
        refine_passes: int = 1,
        refiner: FaceDetector | None = None,
    ) -> None:
        self.detector = detector
        # The refinement patch always shows one face at ~80 px, the short-range model's home
        # ground; with a full-range first pass, pass a short-range detector here.
        self.refiner = refiner or detector
        self.crop_size = crop_size
        self.min_refined_score = min_refined_score
        self.template = template
        self.refine = refine
        self.refine_contexts = refine_contexts
        self.refine_flip = refine_flip
        self.refine_passes = refine_passes

    def find(
        self, rgb: np.ndarray, *, thorough: bool = False, max_faces: int | None = None
    ) -> list[FoundFace]:
        """Faces in an RGB ``uint8`` image, largest first, each with its aligned crop.

        ``thorough`` is for still photos (enrolment, evaluation): it also considers weak
        candidates and searches the image with a border around it, at two or three times the
        cost. Camera frames use the fast path.
        """
        faces = self.detect(rgb, thorough=thorough)
        if max_faces is not None:
            faces = faces[:max_faces]
        return [
            FoundFace(
                box=face.box,
                score=face.score,
                keypoints=face.keypoints,
                crop=align_face(rgb, face, self.crop_size, self.template),
            )
            for face in faces
        ]

    def detect(self, rgb: np.ndarray, *, thorough: bool = False) -> list[DetectedFace]:
        """The detections :meth:`find` would align, largest first."""
        candidates = self._candidates(rgb, thorough=thorough)
        if not self.refine:
            faces = candidates
        else:
            faces = []
            for candidate in candidates:
                refined = self._refine(rgb, candidate)
                if refined is not None:
                    faces.append(refined)
        faces.sort(key=lambda face: face.score, reverse=True)
        unique: list[DetectedFace] = []
        for face in faces:
            if all(iou(face.box, kept.box) < DUPLICATE_IOU for kept in unique):
                unique.append(face)
        unique = [face for face in unique if min(face.box[2:]) >= self.detector.min_face_size]
        unique.sort(key=lambda face: face.area, reverse=True)
        return unique

    def _candidates(self, rgb: np.ndarray, *, thorough: bool) -> list[DetectedFace]:
        if not thorough:
            # With refinement as a second opinion, weaker first-pass detections can be let in.
            return self.detector.detect(rgb)
        candidates = self.detector.detect(rgb, min_confidence=CANDIDATE_MIN_CONFIDENCE)
        height, width = rgb.shape[:2]
        pad = round(max(height, width) * THOROUGH_PADDING)
        padded = cv2.copyMakeBorder(rgb, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=(0, 0, 0))
        for face in self.detector.detect(padded, min_confidence=CANDIDATE_MIN_CONFIDENCE):
            candidates.append(face.shifted(-pad, -pad))
        return candidates

    def _refine(self, rgb: np.ndarray, candidate: DetectedFace) -> DetectedFace | None:
        face = candidate
        for _ in range(self.refine_passes):
            refined = self._refine_once(rgb, face)
            if refined is None:
                return None
            face = refined
        return face

    def _refine_once(self, rgb: np.ndarray, candidate: DetectedFace) -> DetectedFace | None:
        for context in self.refine_contexts:
            refined = self._refine_in_context(rgb, candidate, context)
            if refined is not None and refined.score >= self.min_refined_score:
                return refined
        return None

    def _refine_in_context(
        self, rgb: np.ndarray, candidate: DetectedFace, context: float
    ) -> DetectedFace | None:
        x, y, w, h = candidate.box
        side = max(w, h)
        centre = (x + w / 2, y + h / 2)
        patch, scale, dx, dy = square_patch(rgb, centre, side * context, REFINE_SIZE)
        best = self._central_face(patch, context)
        if best is None:
            return None
        if self.refine_flip:
            # BlazeFace's keypoints carry a small pose-dependent bias; detecting the mirrored
            # patch too and averaging cancels the part of it that flips with the image.
            mirrored = self._central_face(np.ascontiguousarray(patch[:, ::-1]), context)
            if mirrored is not None:
                best = _average(best, _unmirror(mirrored, REFINE_SIZE))
        return best.shifted(dx, dy, 1.0 / scale)

    def _central_face(self, patch: np.ndarray, context: float) -> DetectedFace | None:
        found = self.detector.detect(
            patch, min_confidence=CANDIDATE_MIN_CONFIDENCE, min_face_size=1
        )
        middle = REFINE_SIZE / 2
        best: DetectedFace | None = None
        for face in found:
            fx, fy, fw, fh = face.box
            offset = np.hypot(fx + fw / 2 - middle, fy + fh / 2 - middle)
            # The face we zoomed on sits in the middle of the patch; another face there is not it.
            if offset > 0.35 * REFINE_SIZE / context:
                continue
            if best is None or face.score > best.score:
                best = face
        return best


# Keypoint order after a horizontal flip: the eyes and the ears swap sides.
_MIRROR_ORDER = (1, 0, 2, 3, 5, 4)


def _unmirror(face: DetectedFace, width: int) -> DetectedFace:
    x, y, w, h = face.box
    keypoints = tuple((width - face.keypoints[i][0], face.keypoints[i][1]) for i in _MIRROR_ORDER)
    return DetectedFace(box=(width - x - w, y, w, h), score=face.score, keypoints=keypoints)


def _average(a: DetectedFace, b: DetectedFace) -> DetectedFace:
    box = tuple(round((p + q) / 2) for p, q in zip(a.box, b.box, strict=True))
    keypoints = tuple(
        ((pa[0] + pb[0]) / 2, (pa[1] + pb[1]) / 2)
        for pa, pb in zip(a.keypoints, b.keypoints, strict=True)
    )
    return DetectedFace(box=box, score=(a.score + b.score) / 2, keypoints=keypoints)  # type: ignore[arg-type]
