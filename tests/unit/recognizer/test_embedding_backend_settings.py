"""EMBEDDING_BACKEND is checked with the settings it depends on when the recognizer starts."""

from __future__ import annotations

import pytest

from services.common.settings import SettingsError
from services.recognizer.settings import RecognizerSettings

pytestmark = pytest.mark.unit


def test_onnx_runtime_is_the_default_back_end():
    assert RecognizerSettings.from_env({}).embedding_backend == "onnx"


def test_a_gpu_needs_the_torch_back_end():
    with pytest.raises(SettingsError, match="RECOGNIZER_DEVICE=cuda needs EMBEDDING_BACKEND=torch"):
        RecognizerSettings.from_env({"RECOGNIZER_DEVICE": "cuda"})

    settings = RecognizerSettings.from_env(
        {"RECOGNIZER_DEVICE": "cuda", "EMBEDDING_BACKEND": "torch"}
    )
    assert settings.recognizer_device == "cuda"


def test_facenet_pytorchs_download_needs_the_torch_back_end():
    with pytest.raises(SettingsError, match="FACENET_PRETRAINED needs EMBEDDING_BACKEND=torch"):
        RecognizerSettings.from_env({"FACENET_PRETRAINED": "vggface2", "EMBEDDING_BACKEND": "onnx"})


def test_an_unknown_back_end_is_refused_with_the_choices():
    with pytest.raises(SettingsError, match="EMBEDDING_BACKEND"):
        RecognizerSettings.from_env({"EMBEDDING_BACKEND": "tensorrt"})
