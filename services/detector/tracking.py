"""Follows faces from frame to frame of one camera, so a face walking past is one track.

Boxes in consecutive frames that overlap enough belong to the same track. A track ends when its
camera shows no face of it for ``max_gap_s`` (judged by the frames' capture time, so a detector
running behind does not split a walk-by the camera saw whole), or once it is ``max_age_s`` old:
a person who stays in view is then followed by a new track, and so decided on again.

Tracks are local to one detector process, which is why the bus routes frames by camera: every
frame of a camera goes to one detector at a time (RabbitMQ's consistent-hash exchange, the
camera id as key; see the FRAMES channel), so that detector sees the whole walk-by. A camera
moves to another detector only when its detector goes (its tracks end with it, and the new
owner starts new ones) or when a detector joins and takes over a share of the cameras (the
tracks it took over are left to end by the idle-camera sweep of the old owner, and the new
owner starts new ones).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from services.common.contracts import TrackEndReason
from services.faces.geometry import Box, iou


@dataclass
class _Track:
    track_id: str
    box: Box
    started: float
    last_seen: float


@dataclass(frozen=True)
class EndedTrack:
    camera_id: str
    track_id: str
    # Capture time (seconds since the epoch) of the track's last face.
    last_seen: float
    reason: TrackEndReason


@dataclass
class IouTracker:
    min_iou: float = 0.3
    max_gap_s: float = 1.5
    max_age_s: float | None = 60.0
    _tracks: dict[str, list[_Track]] = field(default_factory=dict)

    def update(
        self, camera_id: str, boxes: list[Box], now: float
    ) -> tuple[list[str], list[EndedTrack]]:
        """A track id for each box of a frame captured at ``now`` (greedy matching, best
        overlap first), and the camera's tracks that ended by then."""
        ended = self.end_stale(camera_id, now)
        live = self._tracks.get(camera_id, [])
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
                track = _Track(uuid.uuid4().hex[:12], box, now, now)
                live.append(track)
                assigned[b] = track.track_id
        self._tracks[camera_id] = live
        return [assigned[b] for b in range(len(boxes))], ended

    def end_stale(self, camera_id: str, now: float) -> list[EndedTrack]:
        """End the camera's tracks with no face since ``now - max_gap_s`` or older than
        ``max_age_s`` (``now`` is a capture time of that camera)."""
        ended, live = [], []
        for track in self._tracks.get(camera_id, []):
            if now - track.last_seen > self.max_gap_s:
                ended.append(EndedTrack(camera_id, track.track_id, track.last_seen, "gap"))
            elif self.max_age_s is not None and now - track.started > self.max_age_s:
                ended.append(EndedTrack(camera_id, track.track_id, track.last_seen, "max_age"))
            else:
                live.append(track)
        if live:
            self._tracks[camera_id] = live
        else:
            self._tracks.pop(camera_id, None)
        return ended

    def end_camera(self, camera_id: str, reason: TrackEndReason) -> list[EndedTrack]:
        """End every track of a camera (it went silent, or the detector stops)."""
        return [
            EndedTrack(camera_id, track.track_id, track.last_seen, reason)
            for track in self._tracks.pop(camera_id, [])
        ]

    @property
    def cameras(self) -> list[str]:
        return list(self._tracks)
