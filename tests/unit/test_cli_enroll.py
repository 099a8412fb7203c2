"""`attendance enroll` refuses a face already enrolled as someone else unless told otherwise."""

import json
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from services.cli import main
from services.common.domain.enrolment import EnrolmentError
from services.common.storage.employees import Employee

pytestmark = pytest.mark.unit


class FaceOfAna:
    """An enroller that finds Ana's face in every photo."""

    def __init__(self) -> None:
        self.allowed: list[bool] = []
        self.audited: list[dict] = []

    def enroll(self, name, photos, *, allow_duplicate_face=False):
        self.allowed.append(allow_duplicate_face)
        if not allow_duplicate_face:
            raise EnrolmentError(
                "face_already_enrolled",
                "photo 1: this face is already enrolled as Ana (id e-ana)",
                conflicting_employee_id="e-ana",
            )
        return Employee("e-new", name, datetime.now(UTC), ("p1",))


@pytest.fixture
def enroller(monkeypatch) -> FaceOfAna:
    enroller = FaceOfAna()
    monkeypatch.setattr("services.common.runtime.configure_logging", lambda *a, **k: None)
    monkeypatch.setattr("services.common.storage.mongo.connect", lambda *a, **k: None)
    # No model is loaded here: the check that the files exist is beside the point.
    monkeypatch.setattr("services.cli._ensure_model_files", lambda settings: None)
    monkeypatch.setattr("services.recognizer.main.connect_cache", lambda settings: None)
    monkeypatch.setattr(
        "services.recognizer.main.build_stack", lambda *a: SimpleNamespace(enroller=enroller)
    )

    class Audit:
        def __init__(self, db) -> None:
            pass

        def record(self, action, **entry) -> None:
            enroller.audited.append({"action": action, **entry})

    monkeypatch.setattr("services.common.storage.audit.AuditLog", Audit)
    return enroller


def test_a_face_already_enrolled_is_refused_naming_its_owner(enroller, tmp_path, capsys):
    photo = tmp_path / "anna.jpg"
    photo.write_bytes(b"jpeg")
    assert main(["enroll", "--name", "Anna", str(photo)]) == 1
    err = capsys.readouterr().err
    assert "face_already_enrolled" in err and "Ana (id e-ana)" in err
    assert "--allow-duplicate-face" in err
    assert enroller.allowed == [False]
    assert enroller.audited == []


def test_allow_duplicate_face_enrols_it_anyway(enroller, tmp_path, capsys):
    photo = tmp_path / "anna.jpg"
    photo.write_bytes(b"jpeg")
    assert main(["enroll", "--name", "Anna", "--allow-duplicate-face", str(photo)]) == 0
    assert json.loads(capsys.readouterr().out)["employee_id"] == "e-new"
    assert enroller.allowed == [True]
    [entry] = enroller.audited
    assert entry["action"] == "employee.enrol" and entry["target"] == "e-new"
    assert entry["actor"].startswith("cli:") and entry["details"]["allow_duplicate_face"] is True
