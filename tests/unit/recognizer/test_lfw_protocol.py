"""LFW's pairs files, the labelled face of a photo, and the fold-by-fold threshold choice."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from services.recognizer.lfw_evaluation import resolution_notes, verification_figures
from services.recognizer.lfw_protocol import (
    LfwPhoto,
    PairsFormatError,
    central_face,
    missing_photos,
    parse_pairs,
    photo_folder,
)
from services.recognizer.verification_metrics import best_threshold, fold_accuracy

pytestmark = pytest.mark.unit

VIEW1_STYLE = "2\nAnn\t1\t2\nBob\t1\t3\nAnn\t1\tCid\t1\nBob\t2\tDee\t4\n"
VIEW2_STYLE = "2 1\nAnn\t1\t2\nAnn\t3\tBob\t1\nCid\t1\t2\nCid\t1\tDee\t1\n"


def test_a_view1_list_is_one_fold_of_same_then_different_person_pairs():
    pairs = parse_pairs(VIEW1_STYLE)
    assert (pairs.folds, pairs.pairs_per_fold) == (1, 2)
    assert [pair.same_person for pair in pairs.pairs] == [True, True, False, False]
    assert {pair.fold for pair in pairs.pairs} == {0}
    assert pairs.pairs[1].first == LfwPhoto("Bob", 1)
    assert pairs.pairs[1].second == LfwPhoto("Bob", 3)
    assert pairs.pairs[3].second.relative_path == "Dee/Dee_0004.jpg"


def test_a_view2_file_is_split_into_its_folds():
    pairs = parse_pairs(VIEW2_STYLE)
    assert (pairs.folds, pairs.pairs_per_fold) == (2, 1)
    assert [pair.fold for pair in pairs.pairs] == [0, 0, 1, 1]
    assert [pair.same_person for pair in pairs.pairs] == [True, False, True, False]


def test_each_photo_is_listed_once_and_each_person_has_their_photos_in_order():
    pairs = parse_pairs(VIEW1_STYLE)
    assert pairs.photos.count(LfwPhoto("Ann", 1)) == 1
    assert pairs.photos_of["Bob"] == [LfwPhoto("Bob", 1), LfwPhoto("Bob", 2), LfwPhoto("Bob", 3)]
    assert pairs.photos_of["Cid"] == [LfwPhoto("Cid", 1)]


def test_spaces_instead_of_tabs_and_blank_lines_are_accepted():
    assert len(parse_pairs("1\n\nAnn 1 2\nAnn 1 Bob 1\n\n").pairs) == 2


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("", "is empty"),
        ("ten\nAnn\t1\t2\n", "line 1: expected a header"),
        ("1 2 3\n", "line 1: expected a header"),
        ("0\n", "line 1: expected a header"),
        ("1\nAnn\t1\tBob\t2\nAnn\t1\t2\n", "line 2 (fold 1, same-person pair 1 of 1)"),
        ("1\nAnn\t1\t2\nAnn\t1\t2\n", "line 3 (fold 1, different-person pair 1 of 1)"),
        ("1\nAnn\tone\t2\nAnn\t1\tBob\t1\n", "photo number 'one' of Ann"),
        ("1\nAnn\t0\t2\nAnn\t1\tBob\t1\n", "photo number '0' of Ann"),
        ("1\nAnn\t1\t1\nAnn\t1\tBob\t1\n", "with itself"),
        ("1\nAnn\t1\t2\nAnn\t1\tAnn\t3\n", "names Ann twice"),
        ("1\n..\t1\t2\nAnn\t1\tBob\t1\n", "is not a person's name"),
        ("1\nAnn\t1\t2\n", "promises 2 pair lines"),
        ("1\nAnn\t1\t2\nAnn\t1\tBob\t1\nCid\t1\t2\n", "the file has 3"),
    ],
)
def test_a_malformed_file_is_refused_naming_the_line_and_the_expected_form(text, words):
    with pytest.raises(PairsFormatError, match=words.replace("(", r"\(").replace(")", r"\)")):
        parse_pairs(text, source="pairs.txt")


def test_the_photo_folder_may_be_given_above_or_at_lfw_level(tmp_path):
    (tmp_path / "lfw" / "Ann").mkdir(parents=True)
    (tmp_path / "lfw" / "Ann" / "Ann_0001.jpg").write_bytes(b"")
    assert photo_folder(tmp_path) == tmp_path / "lfw"
    assert photo_folder(tmp_path / "lfw") == tmp_path / "lfw"
    photos = [LfwPhoto("Ann", 1), LfwPhoto("Ann", 2)]
    assert missing_photos(photo_folder(tmp_path), photos) == ["Ann/Ann_0002.jpg"]


@dataclass(frozen=True)
class Box:
    box: tuple[int, int, int, int]


def test_the_labelled_person_is_the_face_nearest_the_centre_not_the_largest():
    big_on_the_side = Box((0, 0, 120, 120))
    small_in_the_middle = Box((100, 100, 50, 50))
    assert central_face([big_on_the_side, small_in_the_middle], 250, 250) is small_in_the_middle
    assert central_face([], 250, 250) is None


def test_the_best_threshold_separates_the_pairs_at_the_midpoint_of_the_gap():
    scores = np.array([0.1, 0.2, 0.3, 0.7, 0.8, 0.9])
    same = np.array([False, False, False, True, True, True])
    threshold, accuracy = best_threshold(scores, same)
    assert threshold == pytest.approx(0.5)
    assert accuracy == 1.0


def test_among_equally_good_cuts_the_middle_one_is_taken():
    # Same and different pairs alternate: the cuts at 0.2, 0.45 and 0.75 each get 4 of 6 right.
    scores = np.array([0.1, 0.3, 0.4, 0.5, 0.6, 0.9])
    same = np.array([False, True, False, True, False, True])
    threshold, accuracy = best_threshold(scores, same)
    assert accuracy == pytest.approx(4 / 6)
    assert threshold == pytest.approx(0.45)


def test_tied_scores_cannot_be_split_by_a_threshold():
    scores = np.array([0.5, 0.5, 0.5, 0.5])
    same = np.array([True, True, True, False])
    threshold, accuracy = best_threshold(scores, same)
    # Calling all four the same person is the best a threshold can do: 3 of 4.
    assert accuracy == 0.75
    assert np.all(scores > threshold)


def test_each_fold_is_scored_at_the_threshold_learnt_on_the_other_folds():
    # Folds 0 and 1 separate at 0.525 between them; fold 2 alone would separate at 0.75, but
    # it is scored at the others' threshold, where its different-person pair (0.6) passes.
    scores = np.array([0.2, 0.8, 0.3, 0.75, 0.6, 0.9])
    same = np.array([False, True, False, True, False, True])
    folds = np.array([0, 0, 1, 1, 2, 2])
    result = fold_accuracy(scores, same, folds)
    assert result.accuracies == (1.0, 1.0, 0.5)
    assert result.thresholds == pytest.approx((0.675, 0.7, 0.525))
    assert result.mean == pytest.approx(2.5 / 3)
    assert result.std == pytest.approx(np.std([1.0, 1.0, 0.5]))
    assert result.standard_error == pytest.approx(np.std([1.0, 1.0, 0.5], ddof=1) / np.sqrt(3))


def test_one_fold_is_scored_at_its_own_best_threshold():
    scores = np.array([0.2, 0.3, 0.6, 0.7])
    same = np.array([False, True, False, True])
    result = fold_accuracy(scores, same, np.zeros(4, dtype=int))
    assert result.accuracies == (0.75,)
    assert np.isnan(result.standard_error)


def test_a_same_person_pair_with_a_photo_without_a_face_counts_as_an_error():
    pairs = parse_pairs("1 2\nAnn\t1\t2\nBob\t1\t2\nAnn\t1\tCid\t1\nBob\t1\tDee\t1\n")
    one, other = np.array([1.0, 0.0]), np.array([0.0, 1.0])
    embeddings = {
        LfwPhoto("Ann", 1): one,
        LfwPhoto("Ann", 2): one,
        LfwPhoto("Bob", 1): other,
        LfwPhoto("Bob", 2): None,
        LfwPhoto("Cid", 1): other,
        LfwPhoto("Dee", 1): one,
    }
    figures = verification_figures(pairs, embeddings)
    assert figures["pairs_without_face"] == 1
    # Every pair with two faces is told apart (same 1.0, different 0.0); Bob's pair is not.
    assert figures["fold_accuracies"] == [0.75]
    assert figures["accuracy_std"] is None
    assert "optimistic" in figures["accuracy_protocol"]


def test_a_rate_finer_than_the_sample_is_flagged():
    pairs = parse_pairs(VIEW1_STYLE)
    notes = resolution_notes(pairs, strangers=500)
    assert any("FAR 0.01" in note for note in notes)
    assert any("FPIR 0.001" in note for note in notes)
    assert not any("FPIR 0.01" in note for note in notes)
