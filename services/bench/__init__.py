"""``attendance bench``: the pipeline's speed and decisions measured in one process.

A benchmark, not a test: it prints figures (JSON with ``--json``, a table otherwise) and
judges nothing. See the README's "Performance" section for how they compare with a peer.
"""
