"""`attendance eval --liveness LIVE_DIR ATTACK_DIR [ATTACK_DIR ...]`: how well the liveness check
tells live faces from attacks, in the terms of ISO/IEC 30107-3.

The protocol, fixed so that runs compare:

* Every image under a folder (recursively; JPEG, PNG, WebP, BMP) is one presentation. Each
  ``ATTACK_DIR`` is one kind of attack (prints, screens) and gets its own APCER.
* Faces are found by the detector's own camera path (:meth:`FaceFinder.detect`, the fast path
  the detector service runs on frames) and the **largest** face of an image is scored, with the
  detector's box and the whole image as the frame. An image with no face is not scored and is
  counted as ``no_face`` (a failure to acquire, reported apart, as the standard asks).
* Figures are per face at the threshold (default: LIVENESS_THRESHOLD's default), plus the
  threshold at which at most 5% of live faces are refused and the APCER there, which does not
  depend on any chosen threshold.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from services.faces.liveness_metrics import (
    TARGET_BPCER,
    acer,
    apcer,
    bpcer,
    quantiles,
    threshold_at_bpcer,
)
from services.faces.liveness_settings import DEFAULT_LIVENESS_THRESHOLD

if TYPE_CHECKING:  # the models load only when an evaluation runs
    import numpy as np

    from services.faces.finder import FaceFinder
    from services.faces.liveness import LivenessScorer

logger = logging.getLogger(__name__)

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".bmp"})


class LivenessDataError(ValueError):
    """A folder to evaluate is missing or holds no image."""


@dataclass
class FolderScores:
    """The scores of one folder's images, and the images that gave none."""

    folder: Path
    images: int = 0
    scores: list[float] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    no_face: list[str] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)


def image_files(folder: Path) -> list[Path]:
    """The images under ``folder``, in a stable order."""
    if not folder.is_dir():
        raise LivenessDataError(f"{folder}: no such folder")
    found = sorted(
        path
        for path in folder.rglob("*")
        if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES
    )
    if not found:
        raise LivenessDataError(f"{folder}: no image (JPEG, PNG, WebP or BMP) in it")
    return found


def score_folder(
    folder: Path,
    finder: FaceFinder,
    scorer: LivenessScorer,
    *,
    advance: Callable[[], None] = lambda: None,
) -> FolderScores:
    """Score the largest face of every image under ``folder``."""
    from services.common.images import ImageError, decode_image

    result = FolderScores(folder)
    for path in image_files(folder):
        result.images += 1
        name = str(path.relative_to(folder))
        try:
            rgb: np.ndarray = decode_image(path.read_bytes())
        except (ImageError, OSError) as exc:
            logger.warning("%s: %s", path, exc)
            result.unreadable.append(name)
            advance()
            continue
        faces = finder.detect(rgb)
        if not faces:
            result.no_face.append(name)
        else:
            # detect() returns the largest face first; one presentation is one person.
            [score] = scorer.score(rgb, [faces[0].box])
            result.scores.append(score)
            result.paths.append(name)
        advance()
    return result


def report(live: FolderScores, attacks: Sequence[FolderScores], threshold: float) -> dict:
    """The figures of one evaluation (see the module doc); pure, for tests and --json."""
    if not live.scores:
        raise LivenessDataError(f"{live.folder}: no face found in any image")
    live_bpcer = bpcer(live.scores, threshold)
    at_target = threshold_at_bpcer(live.scores, TARGET_BPCER)
    attack_rows = []
    for attack in attacks:
        attack_rows.append(
            {
                **_counts(attack),
                "apcer": _round(apcer(attack.scores, threshold)),
                f"apcer_at_bpcer_{round(TARGET_BPCER * 100)}": _round(
                    apcer(attack.scores, at_target)
                ),
                "scores": quantiles(attack.scores),
            }
        )
    scored = [row["apcer"] for row in attack_rows if row["faces"]]
    return {
        "protocol": "ISO/IEC 30107-3 per face; largest face per image, detector camera path",
        "threshold": threshold,
        "live": {**_counts(live), "bpcer": _round(live_bpcer), "scores": quantiles(live.scores)},
        "attacks": attack_rows,
        "acer": _round(acer(scored, live_bpcer)) if scored else None,
        f"at_bpcer_{round(TARGET_BPCER * 100)}": {
            "threshold": round(at_target, 4),
            "bpcer": _round(bpcer(live.scores, at_target)),
        },
    }


def _counts(folder: FolderScores) -> dict:
    return {
        "folder": str(folder.folder),
        "images": folder.images,
        "faces": len(folder.scores),
        "no_face": len(folder.no_face),
        "unreadable": len(folder.unreadable),
    }


def _round(value: float) -> float:
    return round(value, 4)


def _percent(value: float | None) -> str:
    return "n/a" if value is None or value != value else f"{value * 100:.1f}%"


def summary(result: dict) -> str:
    """The report as a few lines for a person."""
    target = round(TARGET_BPCER * 100)
    at = result[f"at_bpcer_{target}"]
    live = result["live"]
    lines = [
        f"threshold {result['threshold']} (a face is live when its score reaches it)",
        f"live    {live['folder']}: {live['faces']} faces of {live['images']} images "
        f"({live['no_face']} without a face, {live['unreadable']} unreadable)",
        f"        BPCER {_percent(live['bpcer'])} (live faces refused)",
        f"        scores {_quantile_line(live['scores'])}",
    ]
    for row in result["attacks"]:
        lines += [
            f"attack  {row['folder']}: {row['faces']} faces of {row['images']} images "
            f"({row['no_face']} without a face, {row['unreadable']} unreadable)",
            f"        APCER {_percent(row['apcer'])} (attacks accepted); at BPCER "
            f"{_percent(at['bpcer'])} (threshold {at['threshold']}): APCER "
            f"{_percent(row[f'apcer_at_bpcer_{target}'])}",
            f"        scores {_quantile_line(row['scores'])}",
        ]
    lines.append(f"ACER {_percent(result['acer'])} (worst APCER and BPCER, averaged)")
    return "\n".join(lines) + "\n"


def _quantile_line(scores: dict[str, float]) -> str:
    return " ".join(f"{name} {value:.3f}" for name, value in scores.items()) or "none"


def evaluate_liveness(
    live_dir: Path,
    attack_dirs: Sequence[Path],
    finder: FaceFinder,
    scorer: LivenessScorer,
    *,
    threshold: float = DEFAULT_LIVENESS_THRESHOLD,
    progress: bool = False,
) -> dict:
    """Score every folder and report (see :func:`report`)."""
    from tqdm import tqdm

    folders = [live_dir, *attack_dirs]
    total = sum(len(image_files(folder)) for folder in folders)
    with tqdm(total=total, desc="liveness", unit="image", disable=not progress) as bar:
        scored = [score_folder(folder, finder, scorer, advance=bar.update) for folder in folders]
    return report(scored[0], scored[1:], threshold)


def main(args: argparse.Namespace) -> int:
    """`attendance eval --liveness`: the detector's settings, with the command line's options."""
    from services.common.model_files import ModelFileError
    from services.common.settings import SettingsError

    if len(args.liveness) < 2:
        sys.stderr.write("attendance eval: --liveness needs LIVE_DIR and at least one ATTACK_DIR\n")
        return 2
    threshold = args.liveness_threshold
    if threshold is not None and not 0.0 <= threshold <= 1.0:
        sys.stderr.write("attendance eval: --liveness-threshold must be between 0 and 1\n")
        return 2
    live_dir, *attack_dirs = (Path(folder) for folder in args.liveness)
    finder = None
    try:
        for folder in (live_dir, *attack_dirs):
            image_files(folder)  # a wrong folder is said before any model loads
        finder, scorer = _build(args)
        result = evaluate_liveness(
            live_dir,
            attack_dirs,
            finder,
            scorer,
            threshold=DEFAULT_LIVENESS_THRESHOLD if threshold is None else threshold,
            progress=sys.stderr.isatty(),
        )
    except (LivenessDataError, SettingsError, ModelFileError) as exc:
        sys.stderr.write(f"attendance eval: {exc}\n")
        return 2
    finally:
        if finder is not None:
            finder.detector.close()
    if args.json:
        sys.stdout.write(json.dumps(result) + "\n")
    else:
        sys.stdout.write(summary(result))
    return 0


def _build(args: argparse.Namespace) -> tuple[FaceFinder, LivenessScorer]:
    from services.faces.factory import build_finder
    from services.faces.liveness import LivenessScorer
    from services.faces.settings import FaceSettings

    overrides = {"attendance_models_dir": args.models_dir, "detector_model": args.detector}
    settings = FaceSettings.from_env(
        **{name: value for name, value in overrides.items() if value is not None}
    )
    scorer = LivenessScorer(settings.attendance_models_dir)
    return build_finder(settings), scorer
