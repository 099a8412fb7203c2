"""The impostor score tails the open-set rule is calibrated on, one per embedding recipe.

Each table is log10 of the per-pair false-accept rate FAR(t) at similarity thresholds t, for
one ``model_id`` (network, weights, alignment, preprocessing): a new recipe needs its own
table, and a recognizer whose recipe has none falls back to the fixed threshold (the
Recognition page says so). Made by (prints the table and its check on the same file):

    ATTENDANCE_MODELS_DIR=../shared/models .venv/bin/python -m \
        services.recognizer.calibrate_open_set --lfw ../shared/faces/lfw-view1 \
        --pairs ../shared/faces/lfw-view1/pairsDevTrain.txt --cache /tmp/i11/current.npz

    check on pairsDevTrain.txt (target FPIR 1%):
      50 people: threshold 0.632, FPIR predicted 1.00%, measured 0.89%
      200 people: threshold 0.674, FPIR predicted 1.00%, measured 0.91%
      800 people: threshold 0.712, FPIR predicted 1.00%, measured 0.59%

Up to t = 0.48 the values are the measured FAR (tens of thousands of pairs each); from 0.50 on
they are the quadratic fit of the measured tail (within 0.07 decades of it up to t = 0.80,
where 2 pairs of 5.9 million remain), which extends it to galleries of any size.
"""

from __future__ import annotations

from services.recognizer.open_set import ImpostorTail

FACENET_CASIA_ALIGN_V1 = ImpostorTail.from_rows(
    "facenet-inception-resnet-v1/casia-webface/sha256:e9bb97f6/align-v1/std128-mirror",
    (
        (0.30, -0.936),
        (0.32, -1.035),
        (0.34, -1.139),
        (0.36, -1.250),
        (0.38, -1.367),
        (0.40, -1.491),
        (0.42, -1.620),
        (0.44, -1.761),
        (0.46, -1.909),
        (0.48, -2.067),
        (0.50, -2.235),
        (0.52, -2.412),
        (0.54, -2.606),
        (0.56, -2.814),
        (0.58, -3.038),
        (0.60, -3.278),
        (0.62, -3.533),
        (0.64, -3.804),
        (0.66, -4.090),
        (0.68, -4.392),
        (0.70, -4.709),
        (0.72, -5.041),
        (0.74, -5.390),
        (0.76, -5.753),
        (0.78, -6.132),
        (0.80, -6.527),
        (0.82, -6.937),
        (0.84, -7.363),
        (0.86, -7.804),
        (0.88, -8.260),
        (0.90, -8.732),
    ),
    source="LFW View 1 pairsDevTrain.txt; 5,923,194 impostor pairs",
)

CALIBRATIONS: tuple[ImpostorTail, ...] = (FACENET_CASIA_ALIGN_V1,)
