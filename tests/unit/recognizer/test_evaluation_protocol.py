"""The evaluation protocol (who is enrolled, probed or a stranger) and its report, on made-up
embeddings whose answers are known."""

from pathlib import Path

import numpy as np
import pytest

from services.recognizer import evaluation_command
from services.recognizer.evaluation import load_protocol, score_embeddings

pytestmark = pytest.mark.unit

MANIFEST = {
    "identities": {
        "siteA/ada": ["a/ada1.jpg", "a/ada2.jpg", "a/ada3.jpg"],
        "siteB/ada": ["b/ada.jpg"],
        "siteA/unnamed_A": ["a/u1.jpg", "a/u2.jpg"],
        "siteB/unnamed_A": ["b/u1.jpg", "b/u2.jpg"],
        "siteA/bo": ["a/bo1.jpg", "a/bo2.jpg", "a/bo_small.jpg"],
        "siteA/cy": ["a/cy.jpg"],
    },
    "single_face_strangers_unlabeled": ["x/stranger.jpg", "x/ada_again.jpg"],
    "derived_variants": {"a/bo_small.jpg": "bo2.jpg, resized"},
}


@pytest.fixture
def protocol():
    return load_protocol(MANIFEST, errata={"x/ada_again.jpg": "siteA/ada"})


def test_the_same_name_from_two_sources_is_one_person_enrolled_once(protocol):
    assert protocol.enrolment["ada"] == "a/ada1.jpg"
    assert ("b/ada.jpg", "ada") in protocol.probes


def test_unnamed_people_from_different_sources_stay_different_people(protocol):
    assert protocol.person_of["a/u1.jpg"] != protocol.person_of["b/u1.jpg"]


def test_one_photo_people_and_unlabelled_photos_are_strangers(protocol):
    assert protocol.strangers == ["a/cy.jpg", "x/stranger.jpg"]


def test_a_stranger_named_in_the_errata_becomes_a_probe_of_that_person(protocol):
    assert ("x/ada_again.jpg", "ada") in protocol.probes
    assert protocol.relabelled == ["x/ada_again.jpg -> siteA/ada"]


def test_without_errata_the_manifest_is_scored_as_it_is():
    protocol = load_protocol(MANIFEST, errata={})
    assert "x/ada_again.jpg" in protocol.strangers
    assert protocol.relabelled == []


def test_a_derived_variant_is_never_a_probe_or_pair_member(protocol):
    assert "a/bo_small.jpg" not in protocol.person_of
    assert "a/bo_small.jpg" not in protocol.images
    assert any("a/bo_small.jpg" in note for note in protocol.notes)


def embeddings_for(
    protocol, look_alike: str | None = None, of: str | None = None
) -> dict[str, np.ndarray]:
    """One direction per person, photos of a person close to it, ``look_alike`` close to ``of``;
    strangers share one direction of their own."""
    rng = np.random.default_rng(0)
    people = sorted(set(protocol.person_of.values()))
    directions = {person: np.eye(16)[i] for i, person in enumerate(people)}
    if look_alike is not None:
        directions[look_alike] = directions[of] * 0.8 + np.eye(16)[15] * 0.6
    vectors = {}
    for path in protocol.images:
        person = protocol.person_of.get(path, path)
        base = directions.get(person, np.eye(16)[14])
        vector = base + 0.05 * rng.normal(size=16)
        vectors[path] = vector / np.linalg.norm(vector)
    return vectors


def test_every_probe_is_identified_and_every_stranger_rejected_when_people_are_apart(protocol):
    result = score_embeddings(protocol, embeddings_for(protocol), threshold=0.6, margin=0.05)
    assert result["rank1"] == 1.0
    assert result["accepted_correctly"] == 1.0
    assert result["false_accept_strangers"] == 0.0
    # ada: 5 photos (two sources and the re-labelled stranger), two unnamed people and bo: 2 each.
    assert result["genuine_pairs"] == 10 + 1 + 1 + 1


def test_the_report_names_the_look_alike_as_the_closest_impostor_pair(protocol):
    look_alike = protocol.person_of["b/u1.jpg"]
    result = score_embeddings(
        protocol, embeddings_for(protocol, look_alike=look_alike, of="ada"), threshold=0.6
    )
    closest = result["closest_impostor_pairs"][0]
    assert "b/u" in closest
    assert "ada" in closest
    assert len(result["weakest_genuine_pairs"]) == 5
    low, high = result["tar_at_far_interval"]["0.01"]
    assert 0.0 <= low <= result["tar_at_far"]["0.01"] <= high <= 1.0


def test_the_command_measures_the_facenet_weights_it_is_given(monkeypatch, capsys):
    seen = {}

    def fake_evaluate(manifest, root, **options):
        seen.update(options, manifest=manifest, root=root)
        return {"ok": True}

    monkeypatch.setattr(evaluation_command, "evaluate", fake_evaluate)
    argv = ["--manifest", "faces/manifest.json", "--facenet-weights", "w/vgg.pt", "--json"]
    assert evaluation_command.main(argv) == 0
    assert seen["facenet_weights"] == Path("w/vgg.pt")
    assert seen["root"] == Path("faces")
    assert capsys.readouterr().out == '{"ok": true}\n'
