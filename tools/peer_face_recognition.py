"""The peer for ``attendance bench``: the same job done with ``face_recognition`` (dlib).

Enrols each NAME=PHOTO, then finds and identifies every face in the video's frames, as
face_recognition's own ``facerec_from_video_file.py`` example does (HOG detector, one
upsampling, 128-d encodings, tolerance 0.6), and prints figures named like the bench's.

Runs in its own virtualenv, kept out of the project's (see the README, "Performance"):

    python3 -m venv .peer
    .peer/bin/pip install dlib-bin face_recognition_models numpy pillow \
        opencv-python-headless click
    .peer/bin/pip install --no-deps face_recognition
    .peer/bin/python tools/peer_face_recognition.py --video clip.mp4 --enroll 'Ada=ada.jpg'
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path

TOLERANCE = 0.6


def enrolment(text: str) -> tuple[str, Path]:
    name, equals, photo = text.partition("=")
    if not equals or not name or not Path(photo).is_file():
        raise argparse.ArgumentTypeError(f"expected NAME=PHOTO with an existing file: {text!r}")
    return name, Path(photo)


def frames_of(video: Path, fps: float | None, max_frames: int | None):
    """RGB frames: every frame, or about ``fps`` per second of video (as the bench keeps)."""
    import cv2

    capture = cv2.VideoCapture(str(video))
    if not capture.isOpened():
        raise SystemExit(f"{video}: not a video file OpenCV can read")
    native_fps = capture.get(cv2.CAP_PROP_FPS) or 30.0
    step = 1.0 if fps is None or fps >= native_fps else native_fps / fps
    next_kept, index, kept = 0.0, 0, 0
    while max_frames is None or kept < max_frames:
        ok, bgr = capture.read()
        if not ok:
            break
        if index >= next_kept:
            next_kept += step
            kept += 1
            yield cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        index += 1
    capture.release()


def run(args: argparse.Namespace) -> dict:
    started = time.perf_counter()
    import face_recognition

    names, known = [], []
    for name, photo in args.enroll:
        encodings = face_recognition.face_encodings(face_recognition.load_image_file(photo))
        if not encodings:
            raise SystemExit(f"--enroll {name}={photo}: no face found")
        names.append(name)
        known.append(encodings[0])
    loaded = time.perf_counter()
    cpu_before = time.process_time()
    frames = faces = 0
    accepted = {name: 0 for name in names}
    for rgb in frames_of(args.video, args.fps, args.max_frames):
        frames += 1
        locations = face_recognition.face_locations(rgb)
        faces += len(locations)
        seen = set()
        for encoding in face_recognition.face_encodings(rgb, locations):
            matches = face_recognition.compare_faces(known, encoding, tolerance=TOLERANCE)
            seen.update(name for name, matched in zip(names, matches, strict=True) if matched)
        for name in seen:
            accepted[name] += 1
    wall_s = time.perf_counter() - loaded
    cpu_s = time.process_time() - cpu_before
    return {
        "video": str(args.video),
        "fps_analysed": args.fps or "every frame",
        "frames": frames,
        "frames_per_s": frames / wall_s if wall_s > 0 else None,
        "cpu_s_per_frame": cpu_s / max(frames, 1),
        "wall_s": wall_s,
        "model_loading_and_enrolment_s": loaded - started,
        "faces_detected": faces,
        "frames_accepted": accepted,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "cpus": os.cpu_count(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--video", type=Path, required=True)
    parser.add_argument("--enroll", type=enrolment, action="append", default=[])
    rate = parser.add_mutually_exclusive_group()
    rate.add_argument("--fps", type=float)
    rate.add_argument("--every-frame", action="store_true")
    parser.add_argument("--max-frames", type=int)
    args = parser.parse_args(argv)
    sys.stdout.write(json.dumps(run(args), indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
