"""The ``attendance bench`` command line."""

from __future__ import annotations

import argparse
import json
import os
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from services.common.settings import SettingsError

USAGE_ERROR = 2
DEFAULT_BATCH_SIZES = (1, 4, 16)


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be above 0, not {text}")
    return value


def _positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be above 0, not {text}")
    return value


def _enrolment(text: str) -> tuple[str, Path]:
    name, equals, photo = text.partition("=")
    if not equals or not name.strip() or not photo:
        raise argparse.ArgumentTypeError(f"expected NAME=PHOTO, not {text!r}")
    path = Path(photo)
    if not path.is_file():
        raise argparse.ArgumentTypeError(f"{photo}: no such file")
    return name.strip(), path


DESCRIPTION = (
    "Measure the pipeline (detector → recognizer, in one process, one frame at a time) on a "
    "video; with --cameras N, N cameras playing it at once in real time; or the recognizer's "
    "network and matching alone. Prints a table, or JSON with --json. A benchmark: it judges "
    "nothing."
)
NEEDS = (
    "the model files; a MongoDB-wire server of its own (nx-27017) unless MONGO_URL is set, "
    "where it uses a database of its own and drops it after; with --broker, RabbitMQ at "
    "RABBITMQ_URL with the consistent-hash exchange plugin"
)
EXAMPLE = (
    "attendance bench --video clip.mp4 --enroll 'Ada Lovelace=ada.jpg' --every-frame\n"
    "attendance bench --video clip.mp4 --enroll 'Ada Lovelace=ada.jpg' --cameras 3 --fps 15 "
    "--broker\n"
    "attendance bench --recognizer --gallery 1000 10000 100000 --json"
)


def build_parser() -> argparse.ArgumentParser:
    from services.cli import OneLineParser

    parser = OneLineParser(
        prog="attendance bench",
        description=DESCRIPTION,
        epilog=f"needs: {NEEDS}\n\nexample:\n" + textwrap.indent(EXAMPLE, "  "),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_arguments(parser)
    return parser


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The bench's options on ``parser`` (``attendance bench`` registers them on its
    subcommand); usage mistakes found after parsing are reported by that parser."""
    parser.set_defaults(bench_parser=parser)
    parser.add_argument("--video", type=Path, metavar="FILE", help="a video file to play")
    parser.add_argument(
        "--enroll",
        type=_enrolment,
        action="append",
        default=[],
        metavar="NAME=PHOTO",
        help="enrol NAME from PHOTO before the video plays (repeatable)",
    )
    rate = parser.add_mutually_exclusive_group()
    rate.add_argument(
        "--fps", type=_positive_float, help="analyse about F frames per second of video"
    )
    rate.add_argument(
        "--every-frame", action="store_true", help="analyse every frame (the default)"
    )
    parser.add_argument(
        "--max-frames",
        type=_positive_int,
        metavar="N",
        help="stop after N analysed frames (with --cameras: N frames per camera)",
    )
    parser.add_argument(
        "--cameras",
        type=_positive_int,
        metavar="N",
        help="play the video as N cameras at once, in real time (cam-1..cam-N), the detector "
        "and the recognizer in threads: frames dropped, queue depths, capture-to-decision "
        "latency per camera",
    )
    parser.add_argument(
        "--loops",
        type=_positive_int,
        default=1,
        metavar="K",
        help="with --cameras: each camera plays the video K times (default 1)",
    )
    parser.add_argument(
        "--broker",
        action="store_true",
        help="with --cameras: over RabbitMQ (RABBITMQ_URL) under a prefix of the run's own, "
        "removed after, instead of the in-memory bus",
    )
    parser.add_argument(
        "--recognizer",
        action="store_true",
        help="faces per second through the network by batch size (1, 4, 16), random crops",
    )
    parser.add_argument(
        "--batch-sizes",
        type=_positive_int,
        nargs="+",
        default=list(DEFAULT_BATCH_SIZES),
        metavar="B",
        help="batch sizes for --recognizer (default: 1 4 16)",
    )
    parser.add_argument(
        "--gallery",
        type=_positive_int,
        nargs="+",
        metavar="N",
        help="match time per face against N random templates (e.g. 1000 10000 100000)",
    )
    parser.add_argument(
        "--seconds",
        type=_positive_float,
        default=3.0,
        help="time each --recognizer and --gallery measurement at least this long (default 3)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")


def measure(args: argparse.Namespace) -> dict[str, Any]:
    from services.bench import network, pipeline

    figures: dict[str, Any] = {}
    if args.video is not None and args.cameras is not None:
        from services.bench import cameras

        figures["cameras"] = cameras.run(
            cameras.CamerasBench(
                args.video,
                args.enroll,
                args.cameras,
                args.fps,
                loops=args.loops,
                max_frames=args.max_frames,
                broker=args.broker,
            )
        )
    elif args.video is not None:
        bench = pipeline.VideoBench(args.video, args.enroll, args.fps, args.max_frames)
        figures["video"] = pipeline.run(bench)
    if args.recognizer:
        figures["recognizer"] = network.embedding_speed(args.batch_sizes, args.seconds)
    if args.gallery:
        figures["gallery"] = network.match_speed(args.gallery, args.seconds)
    figures["peak_rss_mb"] = pipeline.peak_rss_mb()
    figures["cpus"] = os.cpu_count()
    return figures


def main(argv: Sequence[str] | None = None) -> int:
    return run_from_args(build_parser().parse_args(argv))


def run_from_args(args: argparse.Namespace) -> int:
    from services.bench.report import table
    from services.common.runtime import configure_logging

    parser = args.bench_parser
    if args.video is None and not args.recognizer and not args.gallery:
        parser.error("nothing to measure: give --video FILE, --recognizer or --gallery N")
    if args.video is None and (
        args.enroll or args.fps or args.every_frame or args.max_frames or args.cameras
    ):
        parser.error(
            "--enroll, --fps, --every-frame, --max-frames and --cameras go with --video FILE"
        )
    if args.cameras is None and (args.broker or args.loops != 1):
        parser.error("--broker and --loops go with --cameras N")
    if args.video is not None and not args.video.is_file():
        parser.error(f"--video {args.video}: no such file")
    # The services log every face at INFO: the figures would drown.
    configure_logging(os.environ.get("BENCH_LOG_LEVEL", "WARNING"))
    try:
        figures = measure(args)
    except SettingsError as exc:
        sys.stderr.write(f"attendance bench: {exc}\n")
        return USAGE_ERROR
    sys.stdout.write(json.dumps(figures, indent=2) + "\n" if args.json else table(figures))
    return 0
