"""LFW regression guard: the product's pipeline on a fixed fifth of View 1's DevTest pairs.

The photos are read from ../shared/faces/lfw-view1 at run time (LFW is for research use and is
never copied into the project); without that folder the test is skipped. The subset is every
fifth same-person and every fifth different-person pair of ``pairsDevTest.txt`` (100 + 100,
about 390 photos), and the floors sit a few points under what the pipeline measured on it
(see each test), so a change that costs accuracy on faces the pipeline was never tuned on
fails here before it reaches the full `attendance eval --lfw` measurement.
"""

from __future__ import annotations

import json

import pytest

from services.recognizer.evaluation_command import main
from services.recognizer.lfw_evaluation import Pipeline, evaluate_lfw, pipeline_recipe
from services.recognizer.lfw_protocol import parse_pairs
from services.recognizer.settings import RecognizerSettings
from tests.conftest import SHARED

pytestmark = pytest.mark.models

LFW_VIEW1 = SHARED / "faces" / "lfw-view1"
DEV_TEST = LFW_VIEW1 / "pairsDevTest.txt"
EVERY = 5
RECIPE_SETTINGS = (
    "DETECTOR_MODEL",
    "DETECTOR_MIN_CONFIDENCE",
    "DETECTOR_MIN_FACE_SIZE",
    "FACENET_WEIGHTS",
    "FACENET_PRETRAINED",
    "MATCH_THRESHOLD",
    "MATCH_MARGIN",
)


def subset_of_dev_test() -> str:
    """Every fifth pair of each kind of DevTest, as a one-fold pairs file."""
    pairs = parse_pairs(DEV_TEST.read_text()).pairs
    same = [pair for pair in pairs if pair.same_person][::EVERY]
    different = [pair for pair in pairs if not pair.same_person][::EVERY]
    lines = [f"{len(same)}"]
    lines += [f"{p.first.name}\t{p.first.number}\t{p.second.number}" for p in same]
    lines += [
        f"{p.first.name}\t{p.first.number}\t{p.second.name}\t{p.second.number}" for p in different
    ]
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def subset_pairs(tmp_path_factory):
    if not DEV_TEST.is_file():
        pytest.skip(f"LFW View 1 is not at {LFW_VIEW1} (see ../shared/faces/lfw-view1/README.md)")
    path = tmp_path_factory.mktemp("lfw") / "pairsDevTestFifth.txt"
    path.write_text(subset_of_dev_test())
    return path


@pytest.fixture(scope="module")
def settings(models_dir) -> RecognizerSettings:
    return RecognizerSettings.from_env({}, attendance_models_dir=models_dir)


@pytest.fixture(scope="module")
def cache_path(tmp_path_factory):
    return tmp_path_factory.mktemp("lfw-cache") / "embeddings.npz"


@pytest.fixture(scope="module")
def result(subset_pairs, settings, recognition_models, cache_path) -> dict:
    finder, embedder = recognition_models
    pipeline = Pipeline(finder, embedder, pipeline_recipe(settings, embedder.model_id))
    return evaluate_lfw(
        LFW_VIEW1, subset_pairs, settings=settings, cache_path=cache_path, pipeline=pipeline
    )


def test_the_subset_is_a_hundred_pairs_of_each_kind(result):
    assert (result["genuine_pairs"], result["impostor_pairs"]) == (100, 100)
    assert result["folds"] == 1
    assert "optimistic" in result["accuracy_protocol"]


def test_the_labelled_face_is_found_in_nearly_every_photo(result):
    # Measured: 100% (DevTest in full: 100% of 1,549).
    assert result["detection_rate"] >= 0.99


def test_same_and_different_people_are_told_apart(result):
    # Measured on the subset: 98.5% (197 of 200; DevTest in full: 99.2%).
    assert result["accuracy_mean"] >= 0.96


def test_most_same_person_pairs_pass_at_a_false_accept_rate_of_one_percent(result):
    # Measured on the subset: 97% (100 impostor pairs: FAR 1% lets one through; DevTest in
    # full: 99.0%).
    assert result["tar_at_far"]["0.01"] >= 0.94


def test_probes_are_identified_among_the_subsets_people(result):
    identification = result["identification"]
    # Measured on the subset: 97.1% of 103 probes among 100 people (DevTest in full: 96.8%
    # of 586 among 361).
    assert identification["rank1"] >= 0.93
    assert identification["probes"] > 0


def test_the_command_rescores_from_the_cache_and_prints_one_json_object(
    result, subset_pairs, cache_path, models_dir, capsys, monkeypatch
):
    # The command reads the recognizer's settings; the cache was filled with the defaults.
    for name in RECIPE_SETTINGS:
        monkeypatch.delenv(name, raising=False)
    argv = ["--lfw", str(LFW_VIEW1), "--pairs", str(subset_pairs), "--cache", str(cache_path)]
    assert main([*argv, "--models-dir", str(models_dir), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["cached_photos"] == printed["photos"] == result["photos"]
    assert printed["accuracy_mean"] == result["accuracy_mean"]
    assert set(printed["tar_at_far"]) == {"0.01", "0.001"}
    assert set(printed["identification"]["fnir_at_fpir"]) == {"0.01", "0.001"}
    assert {"probes_missed", "probes_misidentified", "strangers_accepted"} <= set(
        printed["identification"]["at_threshold"]
    )
    assert set(printed["identification"]["galleries"]) == {"50", "200"}
