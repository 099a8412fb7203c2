"""Face alignment: warp a detected face into the canonical crop the embedding network expects.

FaceNet (CASIA-WebFace) was trained on MTCNN boxes enlarged by a margin, never rotated. Its
embeddings are therefore best when our crop shows the face at the same scale and position as
those training crops. A similarity transform (rotation, uniform scale, translation) that sends
the detected eyes and mouth onto fixed template points gives that, and additionally undoes
head roll, which the network never learnt to ignore.

The template below was chosen on LFW View 1 DevTrain and checked on DevTest (`attendance eval
--lfw`); any change to it changes every embedding, so it is versioned by
:data:`ALIGNMENT_VERSION`, which is part of the model id (stored vectors are migrated with
`attendance reembed`).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from services.faces.detection import LEFT_EYE, MOUTH_CENTER, RIGHT_EYE, DetectedFace

ALIGNMENT_VERSION = "align-v2"
DEFAULT_CROP_SIZE = 160


@dataclass(frozen=True)
class AlignmentTemplate:
    """Where the keypoints go, as fractions of the crop side (x to the right, y down).

    ``right_eye`` is the person's right eye, which appears on the left of the crop.
    """

    right_eye: tuple[float, float]
    left_eye: tuple[float, float]
    mouth: tuple[float, float]
    # With the mouth as a third point the scale follows the whole face, not only the eye
    # distance, which shrinks when the head turns.
    use_mouth: bool = True
    # MTCNN's boxes, which the network was trained on, are taller than wide: resized to a
    # square they squash the face vertically. Fitting the keypoints in a space stretched by
    # this factor and squashing the result gives the crop that same aspect.
    vertical_squeeze: float = 1.0


def symmetric_template(eye_y: float, eye_distance: float, mouth_y: float) -> AlignmentTemplate:
    half = eye_distance / 2
    return AlignmentTemplate(
        right_eye=(0.5 - half, eye_y), left_eye=(0.5 + half, eye_y), mouth=(0.5, mouth_y)
    )


# align-v2: measured on LFW View 1 DevTrain (python -m services.recognizer.lfw_evaluation) and
# checked on DevTest; align-v1 was symmetric_template(eye_y=0.38, eye_distance=0.34,
# mouth_y=0.76) with no squeeze, chosen on the small photo set.
DEFAULT_TEMPLATE = AlignmentTemplate(
    right_eye=(0.3271, 0.4136),
    left_eye=(0.6968, 0.4136),
    mouth=(0.5119, 0.7367),
    vertical_squeeze=1.244,
)


def _similarity_from_points(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Least-squares similarity transform (Umeyama, no reflection) as a 2x3 matrix."""
    source_mean = source.mean(axis=0)
    target_mean = target.mean(axis=0)
    source_centred = source - source_mean
    target_centred = target - target_mean
    variance = float((source_centred**2).sum())
    if variance <= 1e-12:
        raise ValueError("keypoints coincide; cannot align")
    covariance = target_centred.T @ source_centred / len(source)
    u, singular, vt = np.linalg.svd(covariance)
    sign = np.ones(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        sign[-1] = -1.0
    rotation = u @ np.diag(sign) @ vt
    scale = float((singular * sign).sum()) / (variance / len(source))
    translation = target_mean - scale * rotation @ source_mean
    return np.hstack([scale * rotation, translation[:, None]])


def alignment_matrix(
    face: DetectedFace,
    size: int = DEFAULT_CROP_SIZE,
    template: AlignmentTemplate = DEFAULT_TEMPLATE,
) -> np.ndarray:
    """The 2x3 matrix mapping image pixels to crop pixels for this face."""
    indices = [RIGHT_EYE, LEFT_EYE] + ([MOUTH_CENTER] if template.use_mouth else [])
    targets = [template.right_eye, template.left_eye] + (
        [template.mouth] if template.use_mouth else []
    )
    source = np.array([face.keypoints[i] for i in indices], dtype=np.float64)
    target = np.array(targets, dtype=np.float64) * size
    squeeze = template.vertical_squeeze
    target[:, 1] *= squeeze
    matrix = _similarity_from_points(source, target)
    matrix[1] /= squeeze
    return matrix


def align_face(
    rgb: np.ndarray,
    face: DetectedFace,
    size: int = DEFAULT_CROP_SIZE,
    template: AlignmentTemplate = DEFAULT_TEMPLATE,
) -> np.ndarray:
    """A ``size`` x ``size`` x 3 ``uint8`` RGB crop of the face in canonical position.

    Pixels outside the image are filled by replicating the border: a black band where a face
    touches the frame edge is a strong feature the network would wrongly attend to.
    """
    matrix = alignment_matrix(face, size, template)
    # The larger of the two axes' scales: with a squeeze they differ, and shrinking must not
    # alias along either.
    scale = max(float(np.hypot(*matrix[0, :2])), float(np.hypot(*matrix[1, :2])))
    if scale < 1.0:
        # Bilinear sampling while shrinking skips pixels and aliases: a 600-px face from a
        # phone photo would not look like the same face at 160 px from a camera. Cut out the
        # region the crop covers and shrink it with area averaging first; the warp that is
        # left only rotates, at scale ~1.
        rgb, matrix = _shrink_region(rgb, matrix, size, scale)
    return cv2.warpAffine(
        rgb,
        matrix,
        (size, size),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REPLICATE,
    )


def _shrink_region(
    rgb: np.ndarray, matrix: np.ndarray, size: int, scale: float
) -> tuple[np.ndarray, np.ndarray]:
    """The part of ``rgb`` under the crop, shrunk by ``scale``, and the matrix adjusted to it."""
    inverse = cv2.invertAffineTransform(matrix)
    corners = np.array([[0, 0], [size, 0], [0, size], [size, size]], dtype=np.float64)
    mapped = corners @ inverse[:, :2].T + inverse[:, 2]
    height, width = rgb.shape[:2]
    # Clipping to the image keeps its true edge as the edge BORDER_REPLICATE repeats.
    x0 = int(np.clip(np.floor(mapped[:, 0].min()) - 2, 0, width - 1))
    y0 = int(np.clip(np.floor(mapped[:, 1].min()) - 2, 0, height - 1))
    x1 = int(np.clip(np.ceil(mapped[:, 0].max()) + 2, x0 + 1, width))
    y1 = int(np.clip(np.ceil(mapped[:, 1].max()) + 2, y0 + 1, height))
    region = rgb[y0:y1, x0:x1]
    new_width = max(1, round((x1 - x0) * scale))
    new_height = max(1, round((y1 - y0) * scale))
    shrunk = cv2.resize(region, (new_width, new_height), interpolation=cv2.INTER_AREA)
    factor_x = new_width / (x1 - x0)
    factor_y = new_height / (y1 - y0)
    # image point p = (q / factor) + origin for a point q of the shrunk region.
    to_image = np.array([[1 / factor_x, 0, x0], [0, 1 / factor_y, y0]], dtype=np.float64)
    adjusted = matrix[:, :2] @ to_image[:, :2]
    offset = matrix[:, :2] @ to_image[:, 2] + matrix[:, 2]
    return shrunk, np.hstack([adjusted, offset[:, None]])
