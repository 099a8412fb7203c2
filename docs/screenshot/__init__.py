"""Synthetic data for docs/dashboard.png, the README's screenshot of the dashboard.

The documentation must never carry a real person's face, so nothing in this package reads a
photo: :mod:`.drawing` draws every employee, visitor, enrolment photo, attendance snapshot and
camera frame as a cartoon with OpenCV, and :mod:`.cast` gives them random unit vectors for
embeddings (nothing is recognised) and writes their day through the product's own code.
``docs/make_screenshot.py`` serves the real dashboard on that data and photographs it.
"""
