"""`attendance bench` refuses a mistaken command line in one line, before loading a model."""

from __future__ import annotations

import pytest

from services.bench.report import table
from services.cli import main

pytestmark = pytest.mark.unit


def _refusal(capsys, argv: list[str]) -> str:
    with pytest.raises(SystemExit) as stopped:
        main(["bench", *argv])
    assert stopped.value.code == 2
    message = capsys.readouterr().err
    assert message.count("\n") == 1
    return message


def test_a_bench_with_nothing_to_measure_is_refused(capsys):
    assert "nothing to measure" in _refusal(capsys, [])


def test_an_enrolment_without_a_photo_is_refused(capsys, tmp_path):
    video = tmp_path / "clip.mp4"
    video.write_bytes(b"")
    assert "NAME=PHOTO" in _refusal(capsys, ["--video", str(video), "--enroll", "Ada"])
    missing = tmp_path / "ada.jpg"
    assert "no such file" in _refusal(capsys, ["--video", str(video), "--enroll", f"Ada={missing}"])


def test_a_missing_video_is_refused(capsys, tmp_path):
    assert "no such file" in _refusal(capsys, ["--video", str(tmp_path / "none.mp4")])


def test_a_frame_rate_and_every_frame_together_are_refused(capsys, tmp_path):
    assert "not allowed with" in _refusal(
        capsys, ["--video", str(tmp_path), "--fps", "5", "--every-frame"]
    )


def test_video_options_without_a_video_are_refused(capsys):
    assert "go with --video" in _refusal(capsys, ["--gallery", "1000", "--max-frames", "3"])


def test_the_table_shows_one_line_per_figure_with_nested_names_joined():
    shown = table({"video": {"frames": 3, "latency_s": {"p50": 0.123456}}, "gallery": [{"n": 1}]})
    assert shown.splitlines() == [
        "video.frames         3",
        "video.latency_s.p50  0.1235",
        "gallery[0].n         1",
    ]


def test_the_broker_and_loops_without_cameras_are_refused(capsys, tmp_path):
    video = tmp_path / "clip.mp4"
    video.write_bytes(b"")
    assert "go with --cameras" in _refusal(capsys, ["--video", str(video), "--broker"])
    assert "go with --cameras" in _refusal(capsys, ["--video", str(video), "--loops", "2"])


def test_cameras_without_a_video_are_refused(capsys):
    assert "go with --video" in _refusal(capsys, ["--gallery", "1000", "--cameras", "2"])
