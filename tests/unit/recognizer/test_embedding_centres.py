"""The shipped mean embedding belongs to the recipe this version runs, and is regenerated whole."""

import numpy as np
import pytest

from services.faces.alignment import ALIGNMENT_VERSION
from services.recognizer import embedding_centres
from services.recognizer.embedding import DEFAULT_MIRROR, EMBEDDING_SIZE, PREPROCESSING_VERSION
from services.recognizer.fit_embedding_centre import centre_source

pytestmark = pytest.mark.unit


def test_the_shipped_centre_is_for_the_alignment_and_preprocessing_the_embedder_runs():
    """A new alignment or preprocessing moves every vector: fit the centre again (see
    services/recognizer/fit_embedding_centre.py) before shipping it."""
    recipe = f"/{ALIGNMENT_VERSION}/{PREPROCESSING_VERSION}{'-mirror' if DEFAULT_MIRROR else ''}"
    [model_id] = embedding_centres.CENTRES
    assert model_id.endswith(recipe)
    centre = embedding_centres.centre_for(model_id)
    assert centre.shape == (EMBEDDING_SIZE,)
    # The mean of unit vectors that are not all alike: inside the sphere, far from its surface.
    assert 0.05 < float(np.linalg.norm(centre)) < 0.9


def test_an_unknown_recipe_has_no_centre():
    assert embedding_centres.centre_for("some-other-network/weights/align-v9/raw") is None


def test_the_generated_source_gives_back_the_fitted_centre():
    centre = np.random.default_rng(3).normal(0, 0.01, EMBEDDING_SIZE)
    namespace: dict = {}
    exec(centre_source("net/weights/align-vX/std", centre, "a test", 10), namespace)
    restored = namespace["centre_for"]("net/weights/align-vX/std")
    np.testing.assert_allclose(restored, centre, atol=5e-7)
