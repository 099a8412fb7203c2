import pytest

from services import cli

pytestmark = pytest.mark.unit


def test_eval_passes_its_options_to_the_evaluation(monkeypatch):
    seen = []
    monkeypatch.setattr(
        "services.recognizer.evaluation_command.main", lambda argv: seen.append(argv) or 0
    )
    assert cli.main(["eval", "--manifest", "m.json", "--root", "faces", "--json"]) == 0
    assert seen == [["--manifest", "m.json", "--root", "faces", "--json"]]


def test_every_service_has_a_subcommand():
    commands = cli.build_parser()._subparsers._group_actions[0].choices
    assert {"capture", "detector", "recognizer", "recorder", "web", "run"} <= set(commands)


def test_a_misspelt_setting_stops_a_service_with_a_clear_message(monkeypatch, capsys):
    monkeypatch.setenv("ATTENDANCE_MODEL_DIR", "/models")
    assert cli.main(["detector"]) == 2
    assert "ATTENDANCE_MODEL_DIR" in capsys.readouterr().err
