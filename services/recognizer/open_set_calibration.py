"""The impostor score tails the open-set rule is calibrated on, one per embedding recipe.

Each table is log10 of the per-pair false-accept rate FAR(t) at similarity thresholds t, for
one ``model_id`` (network, weights, alignment, preprocessing): a new recipe needs its own
table, and a recognizer whose recipe has none falls back to the fixed threshold (the
Recognition page says so). Made by (prints the table and its check on the same file):

    ATTENDANCE_MODELS_DIR=../shared/models .venv/bin/python -m \
        services.recognizer.calibrate_open_set --lfw ../shared/faces/lfw-view1 \
        --pairs ../shared/faces/lfw-view1/pairsDevTrain.txt --cache lfw-devtrain.npz

    check on pairsDevTrain.txt (target FPIR 1%):
      50 people: threshold 0.526, FPIR predicted 1.00%, measured 0.93%
      200 people: threshold 0.578, FPIR predicted 1.00%, measured 0.98%
      800 people: threshold 0.627, FPIR predicted 1.00%, measured 0.68%

Up to t = 0.48 the values are the measured FAR (3,774 pairs or more each); from 0.50 on they
are the quadratic fit of the measured tail (within 0.07 decades of it up to t = 0.72, where 4
pairs of 5.9 million remain), which extends it to galleries of any size.
"""

from __future__ import annotations

from services.common.domain.open_set import ImpostorTail

FACENET_CASIA_ALIGN_V2_CENTRED = ImpostorTail.from_rows(
    "facenet-inception-resnet-v1/casia-webface/sha256:e9bb97f6/align-v2/std128-mirror-centred",
    (
        (0.30, -1.739),
        (0.32, -1.875),
        (0.34, -2.015),
        (0.36, -2.160),
        (0.38, -2.313),
        (0.40, -2.471),
        (0.42, -2.639),
        (0.44, -2.820),
        (0.46, -3.003),
        (0.48, -3.196),
        (0.50, -3.403),
        (0.52, -3.627),
        (0.54, -3.855),
        (0.56, -4.088),
        (0.58, -4.325),
        (0.60, -4.566),
        (0.62, -4.811),
        (0.64, -5.060),
        (0.66, -5.314),
        (0.68, -5.572),
        (0.70, -5.834),
        (0.72, -6.100),
        (0.74, -6.370),
        (0.76, -6.645),
        (0.78, -6.924),
        (0.80, -7.207),
        (0.82, -7.494),
        (0.84, -7.786),
        (0.86, -8.081),
        (0.88, -8.381),
        (0.90, -8.685),
    ),
    source="LFW View 1 pairsDevTrain.txt; 5,923,194 impostor pairs",
)

CALIBRATIONS: tuple[ImpostorTail, ...] = (FACENET_CASIA_ALIGN_V2_CENTRED,)
