"""Verification figures from genuine and impostor pair scores: TAR at a FAR, EER, and how sure
a small photo set lets one be of them.

A staff photo set is small: at FAR 0.1% the threshold is set by the handful of most similar
impostor pairs, often one look-alike. :func:`tar_interval` says how far the figure could move
with another sample of people, by resampling whole people (a person's pairs rise and fall
together, so resampling pairs would claim far more certainty than the set holds).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

BOOTSTRAP_ROUNDS = 1000
BOOTSTRAP_SEED = 0
INTERVAL_LEVEL = 0.90


@dataclass(frozen=True)
class PairScores:
    """Similarities of photo pairs and the people on each side (same person = genuine)."""

    scores: np.ndarray
    first_person: np.ndarray
    second_person: np.ndarray

    @property
    def same_person(self) -> np.ndarray:
        return self.first_person == self.second_person

    @property
    def genuine(self) -> np.ndarray:
        return self.scores[self.same_person]

    @property
    def impostor(self) -> np.ndarray:
        return self.scores[~self.same_person]


def tar_at_far(
    genuine: np.ndarray,
    impostor: np.ndarray,
    far: float,
    *,
    genuine_weights: np.ndarray | None = None,
    impostor_weights: np.ndarray | None = None,
) -> tuple[float, float]:
    """(TAR, threshold): the share of genuine scores above the threshold that lets through at
    most ``far`` of the impostors (strictly greater is accepted).

    Weights count a pair several times (or not at all), for the bootstrap; without them every
    pair counts once.
    """
    genuine_weights = np.ones(len(genuine)) if genuine_weights is None else genuine_weights
    impostor_weights = np.ones(len(impostor)) if impostor_weights is None else impostor_weights
    counted = impostor_weights > 0
    impostor, impostor_weights = impostor[counted], impostor_weights[counted]
    if len(impostor) == 0 or genuine_weights.sum() == 0:
        return float("nan"), float("nan")
    order = np.argsort(impostor, kind="stable")[::-1]
    let_through = np.cumsum(impostor_weights[order])
    # The highest impostor score that would push the accepted share over `far` is the threshold.
    over = int(np.searchsorted(let_through, far * let_through[-1], side="right"))
    threshold = float(impostor[order[min(over, len(order) - 1)]])
    accepted = genuine_weights[genuine > threshold].sum()
    return float(accepted / genuine_weights.sum()), threshold


def equal_error_rate(genuine: np.ndarray, impostor: np.ndarray) -> tuple[float, float]:
    """(EER, threshold) where false rejects and false accepts are closest."""
    if len(impostor) == 0 or len(genuine) == 0:
        return float("nan"), float("nan")
    thresholds = np.unique(np.concatenate([genuine, impostor]))
    frr = np.array([np.mean(genuine < t) for t in thresholds])
    far = np.array([np.mean(impostor >= t) for t in thresholds])
    best = int(np.argmin(np.abs(frr - far)))
    return float((frr[best] + far[best]) / 2), float(thresholds[best])


def tar_interval(
    pairs: PairScores,
    far: float,
    *,
    rounds: int = BOOTSTRAP_ROUNDS,
    level: float = INTERVAL_LEVEL,
    seed: int = BOOTSTRAP_SEED,
) -> tuple[float, float]:
    """A ``level`` bootstrap interval of TAR at ``far``, resampling people with replacement.

    A person drawn k times counts their own (genuine) pairs k times, and a pair of two drawn
    people counts the product of their draws. Seeded, so the same set gives the same interval.
    """
    people = np.unique(np.concatenate([pairs.first_person, pairs.second_person]))
    first = np.searchsorted(people, pairs.first_person)
    second = np.searchsorted(people, pairs.second_person)
    same = pairs.same_person
    genuine, impostor = pairs.scores[same], pairs.scores[~same]
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(rounds):
        draws = rng.multinomial(len(people), np.full(len(people), 1 / len(people)))
        genuine_weights = draws[first[same]].astype(float)
        impostor_weights = (draws[first[~same]] * draws[second[~same]]).astype(float)
        tar, _ = tar_at_far(
            genuine,
            impostor,
            far,
            genuine_weights=genuine_weights,
            impostor_weights=impostor_weights,
        )
        if not np.isnan(tar):
            values.append(tar)
    if not values:
        return float("nan"), float("nan")
    tail = (1 - level) / 2
    low, high = np.quantile(values, [tail, 1 - tail])
    return float(low), float(high)


@dataclass(frozen=True)
class FoldAccuracy:
    """Verification accuracy of each fold at the threshold chosen without it."""

    accuracies: tuple[float, ...]
    thresholds: tuple[float, ...]

    @property
    def mean(self) -> float:
        return float(np.mean(self.accuracies))

    @property
    def std(self) -> float:
        """Spread of the fold accuracies (``np.std``, as FaceNet's LFW script reports it)."""
        return float(np.std(self.accuracies))

    @property
    def standard_error(self) -> float:
        """LFW's own figure: the sample standard deviation over the square root of the folds."""
        if len(self.accuracies) < 2:
            return float("nan")
        return float(np.std(self.accuracies, ddof=1) / np.sqrt(len(self.accuracies)))


def best_threshold(scores: np.ndarray, same_person: np.ndarray) -> tuple[float, float]:
    """(threshold, accuracy): the cut that classifies the most pairs right, a pair being
    called the same person when its score is strictly above the threshold.

    Every cut between two distinct scores is tried (the exact optimum, no grid); the threshold
    is the midpoint of the two scores around the cut, and among equally good cuts the middle
    one is taken, so a plateau does not push the threshold to one of its ends.
    """
    scores = np.asarray(scores, dtype=np.float64)
    same_person = np.asarray(same_person, dtype=bool)
    if scores.size == 0:
        return float("nan"), float("nan")
    order = np.argsort(scores, kind="stable")
    ordered, same = scores[order], same_person[order]
    # Cut k calls the k lowest scores different: right are the different ones below the cut
    # and the same ones at or above it.
    different_below = np.concatenate([[0], np.cumsum(~same)])
    same_above = same.sum() - np.concatenate([[0], np.cumsum(same)])
    right = different_below + same_above
    # Only cuts between distinct scores (and below all, above all) can be realised.
    cuts = np.flatnonzero(np.concatenate([[True], ordered[1:] > ordered[:-1], [True]]))
    best = cuts[right[cuts] == right[cuts].max()]
    cut = int(best[(len(best) - 1) // 2])
    if cut == 0:
        threshold = float(ordered[0]) - 1e-6
    elif cut == len(ordered):
        threshold = float(ordered[-1])
    else:
        threshold = float(ordered[cut - 1] + ordered[cut]) / 2
    return threshold, float(right[cut] / len(ordered))


def fold_accuracy(scores: np.ndarray, same_person: np.ndarray, folds: np.ndarray) -> FoldAccuracy:
    """LFW's unrestricted protocol: each fold is scored at the threshold best on all the
    other folds. With one fold there is nothing else to learn from, so the threshold is the
    best on the fold itself (an optimistic figure; callers must say so)."""
    scores = np.asarray(scores, dtype=np.float64)
    same_person = np.asarray(same_person, dtype=bool)
    folds = np.asarray(folds)
    accuracies, thresholds = [], []
    labels = np.unique(folds)
    for fold in labels:
        held_out = folds == fold
        learn = ~held_out if len(labels) > 1 else held_out
        threshold, _ = best_threshold(scores[learn], same_person[learn])
        called_same = scores[held_out] > threshold
        accuracies.append(float(np.mean(called_same == same_person[held_out])))
        thresholds.append(threshold)
    return FoldAccuracy(tuple(accuracies), tuple(thresholds))
