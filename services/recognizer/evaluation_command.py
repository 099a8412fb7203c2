"""The command line of `attendance eval`: a labelled photo set (--manifest, scored by
:mod:`services.recognizer.evaluation`), LFW's protocol (--lfw, :mod:`.lfw_evaluation`) or the
liveness check (--liveness, :mod:`services.faces.liveness_evaluation`)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from services.recognizer.evaluation import evaluate
from services.recognizer.matching import DEFAULT_MARGIN, DEFAULT_THRESHOLD


def _summary(result: dict) -> str:
    lines = [
        f"images {result['images']}, detected {result['detected']} "
        f"({result['detection_rate']:.1%})",
        f"rank-1 identification {result['rank1']:.1%} of {result['probes']} probes "
        f"({result['enrolled']} enrolled)",
        f"TAR {result['tar_at_far']['0.01']:.1%} at FAR 1%, "
        f"{result['tar_at_far']['0.001']:.1%} at FAR 0.1% "
        f"({result['genuine_pairs']} genuine / {result['impostor_pairs']} impostor pairs)",
        f"{result['interval_level']:.0%} interval over resampled people: TAR at FAR 0.1% "
        f"{result['tar_at_far_interval']['0.001'][0]:.1%}-"
        f"{result['tar_at_far_interval']['0.001'][1]:.1%}",
        f"EER {result['eer']:.1%} at similarity {result['eer_threshold']:.3f}",
        f"at threshold {result['threshold']} margin {result['margin']}: "
        f"{result['accepted_correctly']:.1%} of probes accepted correctly, "
        f"{result['accepted_wrongly']:.1%} wrongly, "
        f"{result['false_accept_strangers']:.1%} of {result['strangers']} strangers accepted",
        f"{result['faces_per_second']} faces/s end to end "
        f"(detection {result['detect_ms_per_photo']} ms/photo, "
        f"embedding {result['embed_ms_per_face']} ms/face)",
        f"model {result['model_id']}",
        "closest impostor pairs (look-alikes, or one person under two names):",
        *(f"  {pair}" for pair in result["closest_impostor_pairs"]),
        "weakest genuine pairs (hard photos, or two people under one name):",
        *(f"  {pair}" for pair in result["weakest_genuine_pairs"]),
    ]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="attendance eval",
        description="Measure face recognition accuracy on a labelled photo set (--manifest) "
        "or under LFW's protocol (--lfw DIR --pairs FILE).",
    )
    photo_set = parser.add_mutually_exclusive_group(required=True)
    photo_set.add_argument("--manifest", type=Path, help="manifest.json")
    photo_set.add_argument(
        "--lfw", type=Path, help="LFW's photo folder (the one holding lfw/, or lfw/ itself)"
    )
    photo_set.add_argument(
        "--liveness",
        nargs="+",
        metavar="DIR",
        help="LIVE_DIR ATTACK_DIR [ATTACK_DIR ...]: measure the liveness check (APCER per "
        "attack folder, BPCER, ACER, score distribution; ISO/IEC 30107-3)",
    )
    parser.add_argument(
        "--pairs",
        type=Path,
        help="with --lfw: a pairs file in LFW's format (View 1's pairsDevTrain.txt or "
        "pairsDevTest.txt, View 2's pairs.txt)",
    )
    parser.add_argument(
        "--cache",
        type=Path,
        help="with --lfw: keep the photos' embeddings in this .npz file, so a re-run only "
        "re-scores (entries are keyed by photo path and the pipeline's model id and settings)",
    )
    parser.add_argument("--root", type=Path, help="folder the manifest paths are relative to")
    parser.add_argument("--models-dir", type=Path, default=None)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--threshold",
        type=float,
        default=None,
        help=f"match threshold (default: {DEFAULT_THRESHOLD}; with --lfw, MATCH_THRESHOLD)",
    )
    parser.add_argument(
        "--margin",
        type=float,
        default=None,
        help=f"match margin (default: {DEFAULT_MARGIN}; with --lfw, MATCH_MARGIN)",
    )
    parser.add_argument(
        "--detector",
        choices=("short", "full"),
        default=None,
        help="detector model (default: short; with --lfw, DETECTOR_MODEL)",
    )
    parser.add_argument(
        "--facenet-weights",
        type=Path,
        default=None,
        help="a FaceNet state_dict to measure instead of the CASIA-WebFace file in the models "
        "folder (the recognizer's FACENET_WEIGHTS)",
    )
    parser.add_argument(
        "--as-labelled",
        action="store_true",
        help="score the manifest as it is, without the known re-labelling of strangers",
    )
    parser.add_argument(
        "--liveness-threshold",
        type=float,
        default=None,
        help="with --liveness: the liveness score a face needs (default: LIVENESS_THRESHOLD's)",
    )
    args = parser.parse_args(argv)
    if args.liveness is not None:
        from services.faces.liveness_evaluation import main as liveness_main

        return liveness_main(args)
    if args.lfw is not None:
        if args.pairs is None:
            parser.error("--lfw needs --pairs PAIRS_FILE")
        return _main_lfw(args)
    if args.pairs is not None or args.cache is not None:
        parser.error("--pairs and --cache go with --lfw")
    root = args.root or args.manifest.parent
    result = evaluate(
        args.manifest,
        root,
        models_dir=args.models_dir,
        threshold=DEFAULT_THRESHOLD if args.threshold is None else args.threshold,
        margin=DEFAULT_MARGIN if args.margin is None else args.margin,
        detector_model=args.detector or "short",
        facenet_weights=args.facenet_weights,
        as_labelled=args.as_labelled,
    )
    if args.json:
        sys.stdout.write(json.dumps(result) + "\n")
    else:
        sys.stdout.write(_summary(result))
    return 0


def _main_lfw(args: argparse.Namespace) -> int:
    """`attendance eval --lfw`: the recognizer's settings, with the command line's overrides."""
    from services.common.model_files import ModelFileError
    from services.common.settings import SettingsError
    from services.recognizer.lfw_evaluation import LfwDataError, evaluate_lfw, summary
    from services.recognizer.lfw_protocol import PairsFormatError
    from services.recognizer.settings import RecognizerSettings

    overrides = {
        "attendance_models_dir": args.models_dir,
        "detector_model": args.detector,
        "facenet_weights": args.facenet_weights,
    }
    try:
        settings = RecognizerSettings.from_env(
            **{name: value for name, value in overrides.items() if value is not None}
        )
        result = evaluate_lfw(
            args.lfw,
            args.pairs,
            settings=settings,
            threshold=args.threshold,
            margin=args.margin,
            cache_path=args.cache,
            progress=sys.stderr.isatty(),
        )
    except (
        PairsFormatError,
        LfwDataError,
        SettingsError,
        ModelFileError,
        FileNotFoundError,
    ) as exc:
        sys.stderr.write(f"attendance eval: {exc}\n")
        return 2
    if args.json:
        sys.stdout.write(json.dumps(result) + "\n")
    else:
        sys.stdout.write(summary(result))
    return 0
