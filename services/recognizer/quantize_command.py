"""`attendance models quantize`: FaceNet's int8 graph for ``EMBEDDING_BACKEND=onnx-int8``.

Static quantisation fixes each activation's range from real inputs, so the command runs the
product's still pipeline (detection, refinement, alignment: the crops enrolment and the LFW
evaluation make) over the photos of an LFW pairs file and feeds the aligned faces and their
mirror images (the network sees both) to ONNX Runtime's calibrator. The published figures use
LFW View 1 ``pairsDevTrain.txt``: never the photos the result is then checked on.

It prints how closely the int8 vectors follow the fp32 network's on the calibration faces;
``attendance eval`` with ``EMBEDDING_BACKEND=onnx-int8`` measures what that costs in accuracy.
"""

from __future__ import annotations

import json
import logging
import random
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

import numpy as np

if TYPE_CHECKING:
    from services.faces.finder import FaceFinder
    from services.recognizer.settings import RecognizerSettings

logger = logging.getLogger(__name__)

CALIBRATION_BATCH = 16
SAMPLE_SEED = 0


def calibration_crops(
    folder: Path, photos: Sequence[Path], finder: FaceFinder, *, progress: bool = False
) -> list[np.ndarray]:
    """The labelled face (nearest the centre) of each photo, aligned as enrolment aligns it."""
    from tqdm import tqdm

    from services.common.images import decode_image
    from services.recognizer.lfw_protocol import central_face

    crops = []
    for photo in tqdm(photos, desc="calibration faces", unit="photo", disable=not progress):
        rgb = decode_image((folder / photo).read_bytes())
        face = central_face(finder.find(rgb, thorough=True), rgb.shape[1], rgb.shape[0])
        if face is not None:
            crops.append(face.crop)
    return crops


def agreement(fp32: np.ndarray, int8: np.ndarray) -> dict[str, float]:
    """Cosine similarity of each face's int8 vector to its fp32 one."""
    cosines = np.sum(fp32 * int8, axis=1) / (
        np.linalg.norm(fp32, axis=1) * np.linalg.norm(int8, axis=1)
    )
    return {
        "cosine_min": round(float(cosines.min()), 5),
        "cosine_median": round(float(np.median(cosines)), 5),
    }


def quantize(
    settings: RecognizerSettings,
    lfw_dir: Path,
    pairs_path: Path,
    faces: int,
    *,
    progress: bool = False,
) -> dict:
    """Makes the int8 graph beside the fp32 one in ``EMBEDDING_ONNX_DIR``; what it did."""
    import onnxruntime

    from services.common.model_files import FACENET_CASIA, resolve_model_file, sha256_of
    from services.faces.factory import build_finder
    from services.recognizer.embedding import standardise
    from services.recognizer.face_networks import OnnxFaceNetwork
    from services.recognizer.lfw_protocol import photo_folder, read_pairs
    from services.recognizer.network_loader import load_network
    from services.recognizer.onnx_models import (
        batched,
        fp32_model_path,
        int8_model_path,
        quantize_int8,
        write_provenance,
    )

    weights = settings.facenet_weights or resolve_model_file(
        settings.attendance_models_dir, FACENET_CASIA
    )
    weights_sha = sha256_of(weights)
    folder = settings.embedding_onnx_dir
    fp32 = load_network(
        "onnx", weights_path=weights, threads=settings.recognizer_threads, onnx_dir=folder
    ).network
    photos = sorted({Path(photo.relative_path) for photo in read_pairs(pairs_path).photos})
    random.Random(SAMPLE_SEED).shuffle(photos)
    finder = build_finder(settings)
    try:
        crops = calibration_crops(photo_folder(lfw_dir), photos[:faces], finder, progress=progress)
    finally:
        finder.detector.close()
    if not crops:
        raise ValueError(f"no face found in the photos of {pairs_path}")
    inputs = standardise(np.stack(crops))
    inputs = np.concatenate([inputs, inputs[..., ::-1]])
    path = int8_model_path(folder, weights_sha)
    quantize_int8(
        fp32_model_path(folder, weights_sha),
        list(batched(iter(inputs), CALIBRATION_BATCH)),
        path,
    )
    int8 = OnnxFaceNetwork(path, backend="onnx-int8", threads=settings.recognizer_threads)
    close = agreement(fp32.run(inputs), int8.run(inputs))
    facts = {
        "sha256": sha256_of(path),
        "made_from": {
            "weights_sha256": weights_sha,
            "fp32_sha256": sha256_of(fp32_model_path(folder, weights_sha)),
        },
        "calibration": {
            "pairs": pairs_path.name,
            "photos": min(faces, len(photos)),
            "faces": len(crops),
            "inputs": len(inputs),
            "seed": SAMPLE_SEED,
        },
        "method": "static QDQ; int8 per-channel weights (7-bit range), uint8 activations; MinMax",
        "onnxruntime": onnxruntime.__version__,
        "agreement_with_fp32": close,
    }
    write_provenance(path, facts)
    return {"model": str(path), **facts}


def main(args, out: TextIO = sys.stdout) -> int:
    """``attendance models quantize --lfw DIR --pairs FILE [--faces N]``."""
    from services.common.model_files import ModelFileError
    from services.common.settings import SettingsError
    from services.recognizer.lfw_protocol import PairsFormatError
    from services.recognizer.settings import RecognizerSettings

    if args.lfw is None or args.pairs is None:
        sys.stderr.write("quantize needs --lfw DIR and --pairs FILE (LFW View 1 DevTrain)\n")
        return 2
    try:
        settings = RecognizerSettings.from_env()
        result = quantize(settings, Path(args.lfw), Path(args.pairs), args.faces, progress=True)
    except (SettingsError, ModelFileError, PairsFormatError, OSError, ValueError) as exc:
        sys.stderr.write(f"{exc}\n")
        return 1
    out.write(json.dumps(result) + "\n")
    return 0
