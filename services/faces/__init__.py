"""Finding, aligning and judging faces in pictures (MediaPipe, OpenCV, the liveness networks).

A library, not a service: the detector runs it on camera frames and the recognizer on enrolment
photos, so both take exactly the same faces. It imports no service (import-linter holds it).
"""
