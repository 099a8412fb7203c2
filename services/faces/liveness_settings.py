"""Liveness settings, shared by the detector (which scores faces) and the recognizer and recorder
(which decide per track and act on the decision).

``LIVENESS``: ``off`` (no scoring, every track counts as live), ``flag`` (attendance is recorded
but the record and a spoof attempt are marked), ``block`` (an attack track records no
attendance, only a spoof attempt). The thresholds are explained in the README's "Liveness".
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from services.common.settings import CommonSettings

LivenessMode = Literal["off", "flag", "block"]

# A face is live when the mean of the two networks' "live" probabilities reaches this. Chosen
# before measuring, as the point where the fused score says "live more likely than not" (the
# published rule takes the argmax of the summed softmax outputs); the figures in the README
# were measured at it, not tuned to it.
DEFAULT_LIVENESS_THRESHOLD = 0.5
# A track is decided once it has this many scored faces...
DEFAULT_LIVENESS_MIN_FACES = 3
# ...and is live when at least this share of them is live.
DEFAULT_LIVENESS_MIN_LIVE_SHARE = 0.5
# The detector scores a track's faces at most this often (capture time), and every face it
# sends: at 30 fps scoring every frame cost as much again as the detection (README, "Liveness").
DEFAULT_LIVENESS_INTERVAL_S = 0.2


class LivenessSettings(CommonSettings):
    """The liveness fields; a service's settings class inherits them."""

    liveness: LivenessMode = "block"
    liveness_threshold: Annotated[float, Field(ge=0.0, le=1.0)] = DEFAULT_LIVENESS_THRESHOLD
    liveness_min_faces: Annotated[int, Field(ge=1, le=100)] = DEFAULT_LIVENESS_MIN_FACES
    liveness_min_live_share: Annotated[float, Field(gt=0.0, le=1.0)] = (
        DEFAULT_LIVENESS_MIN_LIVE_SHARE
    )
    liveness_interval_s: Annotated[
        float,
        Field(ge=0.0, le=10.0, description="seconds between liveness scores of a track's faces"),
    ] = DEFAULT_LIVENESS_INTERVAL_S
