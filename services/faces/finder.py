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
   real face scored >= 0.75 on refinement, every false candidate <= 0.70. The patch's mirror
   image is detected too and the keypoints averaged (more precise crops).

Camera frames can be refined without the mirror where it is not needed (``mirror=False``): a
face whose patch scores high enough alone is confirmed with one detector call instead of two or
more (the mirror is still asked for a face it may confirm, so no face the mirrored path finds is
lost). Only the few faces sent for embedding are then given the full refinement with
:meth:`FaceFinder.sharpen`, which yields exactly the face the mirrored path would have.

Both paths end in the same :func:`~services.faces.alignment.align_face` call, so a face
enrolled from a photo and the same face seen by a camera give comparable crops.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace

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

# The best face found in a refinement patch or its mirror image (patch coordinates), by
# candidate box, context and mirroring: the patch depends on nothing else, so a later
# refinement of the same candidate reuses it.
_PatchFaces = dict[tuple[tuple[int, int, int, int], float, bool], DetectedFace | None]


@dataclass(frozen=True)
class Unsharpened:
    """How a face refined without the mirror was found, for :meth:`FaceFinder.sharpen`."""

    candidate: DetectedFace
    patch_faces: _PatchFaces


@dataclass
class DetectorCalls:
    """Detector calls a finder made: on whole images, on refinement patches (and their
    mirrors), and on patches for :meth:`FaceFinder.sharpen`."""

    candidates: int = 0
    refinement: int = 0
    sharpening: int = 0


@dataclass(frozen=True)
class FoundFace:
    """A face ready for embedding: where it is in the image and its aligned crop."""

    box: tuple[int, int, int, int]
    score: float
    keypoints: tuple[tuple[float, float], ...]
    crop: np.ndarray
    # Set when the face was refined without the mirror (None: nothing left to do).
    unsharpened: Unsharpened | None = field(default=None, repr=False, compare=False)

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
        self.calls = DetectorCalls()

    def find(
        self,
        rgb: np.ndarray,
        *,
        thorough: bool = False,
        max_faces: int | None = None,
        mirror: bool = True,
    ) -> list[FoundFace]:
        """Faces in an RGB ``uint8`` image, largest first, each with its aligned crop.

        ``thorough`` is for still photos (enrolment, evaluation): it also considers weak
        candidates and searches the image with a border around it, at two or three times the
        cost. Camera frames use the fast path. ``mirror=False`` asks the mirror image only for a
        face that its patch alone does not confirm: the faces are those of the mirrored path
        and a few it would have rejected (confirmed without the mirror), and a face confirmed
        without the mirror has less precise keypoints and crop until :meth:`sharpen`.
        """
        found = self._detect(rgb, thorough=thorough, mirror=mirror)
        if max_faces is not None:
            found = found[:max_faces]
        return [self._aligned(rgb, face, unsharpened) for face, unsharpened in found]

    def sharpen(self, rgb: np.ndarray, face: FoundFace) -> FoundFace:
        """``face`` (found in ``rgb``) as a mirrored refinement finds it: the same box,
        keypoints, score and crop :meth:`find` gives by default. A face already refined so is
        returned as it is, and so is one the mirrored refinement would have rejected (it was
        confirmed without the mirror: rare, and the face is real enough to follow)."""
        if face.unsharpened is None:
            return face
        before = self.calls.refinement
        sharp = self._refine(
            rgb, face.unsharpened.candidate, mirror=True, patch_faces=face.unsharpened.patch_faces
        )
        self.calls.sharpening += self.calls.refinement - before
        self.calls.refinement = before
        if sharp is None:
            logger.debug("face at %s not confirmed with its mirror; kept unsharpened", face.box)
            return face
        if sharp == face.detection:
            # Its refinement had asked the mirror already.
            return replace(face, unsharpened=None)
        return self._aligned(rgb, sharp, None)

    def detect(self, rgb: np.ndarray, *, thorough: bool = False) -> list[DetectedFace]:
        """The detections :meth:`find` would align, largest first."""
        return [face for face, _ in self._detect(rgb, thorough=thorough, mirror=True)]

    def _aligned(
        self, rgb: np.ndarray, face: DetectedFace, unsharpened: Unsharpened | None
    ) -> FoundFace:
        return FoundFace(
            box=face.box,
            score=face.score,
            keypoints=face.keypoints,
            crop=align_face(rgb, face, self.crop_size, self.template),
            unsharpened=unsharpened,
        )

    def _detect(
        self, rgb: np.ndarray, *, thorough: bool, mirror: bool
    ) -> list[tuple[DetectedFace, Unsharpened | None]]:
        candidates = self._candidates(rgb, thorough=thorough)
        faces: list[tuple[DetectedFace, Unsharpened | None]]
        if not self.refine:
            faces = [(candidate, None) for candidate in candidates]
        else:
            # Without the mirror the face can be sharpened later (when the finder mirrors at all).
            pending = not mirror and self.refine_flip
            faces = []
            for candidate in candidates:
                patch_faces: _PatchFaces = {}
                refined = self._refine(rgb, candidate, mirror=mirror, patch_faces=patch_faces)
                if refined is not None:
                    later = Unsharpened(candidate, patch_faces) if pending else None
                    faces.append((refined, later))
        faces.sort(key=lambda found: found[0].score, reverse=True)
        unique: list[tuple[DetectedFace, Unsharpened | None]] = []
        for found in faces:
            if all(iou(found[0].box, kept[0].box) < DUPLICATE_IOU for kept in unique):
                unique.append(found)
        unique = [found for found in unique if min(found[0].box[2:]) >= self.detector.min_face_size]
        unique.sort(key=lambda found: found[0].area, reverse=True)
        return unique

    def _candidates(self, rgb: np.ndarray, *, thorough: bool) -> list[DetectedFace]:
        if not thorough:
            # With refinement as a second opinion, weaker first-pass detections can be let in.
            self.calls.candidates += 1
            return self.detector.detect(rgb)
        self.calls.candidates += 2
        candidates = self.detector.detect(rgb, min_confidence=CANDIDATE_MIN_CONFIDENCE)
        height, width = rgb.shape[:2]
        pad = round(max(height, width) * THOROUGH_PADDING)
        padded = cv2.copyMakeBorder(rgb, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=(0, 0, 0))
        for face in self.detector.detect(padded, min_confidence=CANDIDATE_MIN_CONFIDENCE):
            candidates.append(face.shifted(-pad, -pad))
        return candidates

    def _refine(
        self, rgb: np.ndarray, candidate: DetectedFace, *, mirror: bool, patch_faces: _PatchFaces
    ) -> DetectedFace | None:
        face = candidate
        for _ in range(self.refine_passes):
            refined = self._refine_once(rgb, face, mirror=mirror, patch_faces=patch_faces)
            if refined is None:
                return None
            face = refined
        return face

    def _refine_once(
        self, rgb: np.ndarray, candidate: DetectedFace, *, mirror: bool, patch_faces: _PatchFaces
    ) -> DetectedFace | None:
        # The first context that confirms the face wins: the next is tried only when it fails.
        for context in self.refine_contexts:
            refined = self._refine_in_context(rgb, candidate, context, mirror, patch_faces)
            if refined is not None and refined.score >= self.min_refined_score:
                return refined
        return None

    def _refine_in_context(
        self,
        rgb: np.ndarray,
        candidate: DetectedFace,
        context: float,
        mirror: bool,
        patch_faces: _PatchFaces,
    ) -> DetectedFace | None:
        x, y, w, h = candidate.box
        side = max(w, h)
        centre = (x + w / 2, y + h / 2)
        patch, scale, dx, dy = square_patch(rgb, centre, side * context, REFINE_SIZE)
        best = self._patch_face(patch, candidate, context, False, patch_faces)
        if best is None:
            return None
        # The mirror is asked when the finder mirrors, and on the fast path too when this face
        # is not confirmed without it: it confirms as many faces as the mirrored path. Not when
        # the face is rejected here whatever the mirror says (the scores, at most 1, average).
        confirmed = best.score >= self.min_refined_score
        hopeless = best.score + 1.0 < 2 * self.min_refined_score
        if self.refine_flip and not hopeless and (mirror or not confirmed):
            # BlazeFace's keypoints carry a small pose-dependent bias; detecting the mirrored
            # patch too and averaging cancels the part of it that flips with the image.
            mirrored = self._patch_face(patch, candidate, context, True, patch_faces)
            if mirrored is not None:
                best = _average(best, _unmirror(mirrored, REFINE_SIZE))
        return best.shifted(dx, dy, 1.0 / scale)

    def _patch_face(
        self,
        patch: np.ndarray,
        candidate: DetectedFace,
        context: float,
        mirrored: bool,
        patch_faces: _PatchFaces,
    ) -> DetectedFace | None:
        """The central face of the patch (or of its mirror image), detected once per
        refinement of a candidate."""
        key = (candidate.box, context, mirrored)
        if key not in patch_faces:
            image = np.ascontiguousarray(patch[:, ::-1]) if mirrored else patch
            patch_faces[key] = self._central_face(image, context)
        return patch_faces[key]

    def _central_face(self, patch: np.ndarray, context: float) -> DetectedFace | None:
        self.calls.refinement += 1
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
