"""Follows faces from frame to frame of one camera, so a face walking past is one track.

Boxes in consecutive frames that overlap enough belong to the same track. Tracks are local to
one detector process: with several detectors a walk-by may be split into several tracks, which
only costs a few extra sightings.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from services.detector.geometry import Box, iou


@dataclass
class _Track:
    track_id: str
    box: Box
    last_seen: float


@dataclass
class IouTracker:
    min_iou: float = 0.3
    max_gap_s: float = 1.5
    _tracks: dict[str, list[_Track]] = field(default_factory=dict)

    def assign(self, camera_id: str, boxes: list[Box], now: float) -> list[str]:
        """A track id for each box (greedy matching, best overlap first)."""
        live = [t for t in self._tracks.get(camera_id, []) if now - t.last_seen <= self.max_gap_s]
        pairs = sorted(
            (
                (iou(box, track.box), b, t)
                for b, box in enumerate(boxes)
                for t, track in enumerate(live)
            ),
            reverse=True,
        )
        assigned: dict[int, str] = {}
        used: set[int] = set()
        for overlap, b, t in pairs:
            if overlap < self.min_iou:
                break
            if b in assigned or t in used:
                continue
            assigned[b] = live[t].track_id
            live[t].box, live[t].last_seen = boxes[b], now
            used.add(t)
        for b, box in enumerate(boxes):
            if b not in assigned:
                track = _Track(uuid.uuid4().hex[:12], box, now)
                live.append(track)
                assigned[b] = track.track_id
        self._tracks[camera_id] = live
        return [assigned[b] for b in range(len(boxes))]
