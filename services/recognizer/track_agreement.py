"""Agreement over several frames of one track before a sighting counts.

One frame is weak evidence in an open set: with N employees a stranger's chance of passing the
threshold is about N times the per-pair false-accept rate, and a blurred or turned face can
resemble someone. A person walking past a camera is seen in many frames that the detector
links into one track, so a verdict is only published once ``required`` frames of the track
agree:

* known as E: at least ``required`` of the track's frames were accepted as E, more than for
  any other employee, and the current frame is one of them (so the sighting's picture and
  similarity are those of a frame that matched);
* unknown: at least ``required`` frames were rejected, more than were accepted as any single
  employee, and no employee has reached agreement on this track;
* otherwise nothing yet.

The votes live in the shared cache, so scaled recognizers that receive frames of the same
track from one queue see each other's votes. Votes are keyed by face id: a redelivered face
does not vote twice. Two recognizers updating one track at the same instant can lose a vote;
the next frame makes up for it.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from dataclasses import dataclass

from services.common.cache import KeyValueCache

logger = logging.getLogger(__name__)

# The face id -> employee id (or "" for a rejected frame) of a track's latest frames.
Votes = dict[str, str]
REJECTED = ""
# A track's latest frames are enough to decide; older ones only cost cache space.
MAX_VOTES_PER_TRACK = 12


@dataclass(frozen=True)
class Verdict:
    """What to publish for the current frame of a track."""

    publish: bool
    employee_id: str | None = None


WAIT = Verdict(publish=False)


def decide(votes: Votes, current_face_id: str, required: int) -> Verdict:
    """The verdict for ``current_face_id`` given every vote of its track (its own included)."""
    tally = Counter(votes.values())
    rejected = tally.pop(REJECTED, 0)
    leader, leader_votes = tally.most_common(1)[0] if tally else (None, 0)
    tied = sum(1 for count in tally.values() if count == leader_votes) > 1
    if leader is not None and leader_votes >= required:
        # Once someone is agreed on, the track's rejected frames are that person, not a stranger.
        if not tied and votes.get(current_face_id) == leader:
            return Verdict(publish=True, employee_id=leader)
        return WAIT
    if rejected >= required and rejected > leader_votes and votes.get(current_face_id) == REJECTED:
        return Verdict(publish=True, employee_id=None)
    return WAIT


class TrackAgreement:
    """Collects the votes of each track in the shared cache and decides when one counts."""

    def __init__(self, cache: KeyValueCache, required: int, track_ttl_s: float = 30.0) -> None:
        if required < 1:
            raise ValueError("at least one frame must agree")
        self._cache = cache
        self.required = required
        self._ttl = track_ttl_s

    def vote(self, camera_id: str, track_id: str, face_id: str, employee_id: str | None) -> Verdict:
        if self.required == 1:
            return Verdict(publish=True, employee_id=employee_id)
        key = f"track:{camera_id}:{track_id}"
        votes = self._load(key)
        votes.pop(face_id, None)
        votes[face_id] = employee_id or REJECTED
        while len(votes) > MAX_VOTES_PER_TRACK:
            votes.pop(next(iter(votes)))
        self._cache.set(key, json.dumps(votes).encode(), self._ttl)
        return decide(votes, face_id, self.required)

    def _load(self, key: str) -> Votes:
        raw = self._cache.get(key)
        if raw is None:
            return {}
        try:
            votes = json.loads(raw)
        except ValueError:
            logger.warning("discarding unreadable votes under %s", key)
            return {}
        if not isinstance(votes, dict):
            return {}
        return {str(face): str(who) for face, who in votes.items()}
