"""Every subcommand's --help says what it does, what it needs, which variables it reads (from
the settings classes, with their defaults) and shows an example."""

from __future__ import annotations

import pytest

from services import cli
from services.capture.settings import CaptureSettings
from services.common.settings import CommonSettings
from services.common.settings_help import MEANINGS, environment_help, shown_default
from services.detector.settings import DetectorSettings
from services.recognizer.settings import RecognizerSettings
from services.recorder.settings import RecorderSettings
from services.web.settings import WebSettings

pytestmark = pytest.mark.unit

SERVICES = {
    "capture": CaptureSettings,
    "detector": DetectorSettings,
    "recognizer": RecognizerSettings,
    "recorder": RecorderSettings,
    "web": WebSettings,
}
ALL_SETTINGS = (CommonSettings, *SERVICES.values())


def help_of(*argv: str, capsys) -> str:
    with pytest.raises(SystemExit) as exit_:
        cli.main([*argv, "--help"])
    assert exit_.value.code == 0
    return capsys.readouterr().out


def subcommands() -> list[str]:
    parser = cli.build_parser()
    action = next(a for a in parser._actions if a.dest == "command")
    return sorted(name for name in action.choices if name != "eval")


@pytest.mark.parametrize("command", subcommands())
def test_every_subcommand_explains_itself_with_what_it_needs_and_an_example(command, capsys):
    text = help_of(command, capsys=capsys)
    description = text.split("\n\n")[1]
    assert len(description.split()) >= 8, f"{command}: no description"
    assert "\nneeds: " in text
    example = text.split("\nexample:\n", 1)[1]
    assert f"attendance {command}" in example


@pytest.mark.parametrize(("command", "settings"), [*SERVICES.items(), ("run", WebSettings)])
def test_a_service_lists_every_variable_of_its_settings_with_its_default(command, settings, capsys):
    text = help_of(command, capsys=capsys)
    for name, field in settings.model_fields.items():
        variable = name.upper()
        assert f"  {variable} " in text, f"{command} --help lacks {variable}"
        entry = " ".join(text[text.index(f"  {variable} ") :].split()[:40])
        assert f"[{shown_default(field.default)}]" in entry, entry
    if command == "web":
        assert "WEB_SECRET_KEY session signing key, 16+ random characters [required]" in " ".join(
            text.split()
        )


def test_run_lists_the_variables_of_every_service(capsys):
    text = help_of("run", capsys=capsys)
    for settings in SERVICES.values():
        for name in settings.model_fields:
            assert f"  {name.upper()} " in text


def test_users_and_tokens_name_the_database_variables_only(capsys):
    for command in ("users", "tokens"):
        text = help_of(command, capsys=capsys)
        assert "  MONGO_URL " in text and "  MONGO_DB " in text
        assert "RABBITMQ_URL" not in text and "HEALTH_PORT" not in text


def test_models_help_says_where_files_come_from_and_the_default_folder(capsys):
    from services.common.model_files import DEFAULT_MODELS_DIR, MODEL_FILES

    text = help_of("models", capsys=capsys)
    assert str(DEFAULT_MODELS_DIR) in text and "ATTENDANCE_MODELS_DIR" in text
    for spec in MODEL_FILES.values():
        assert spec.url in text


def test_every_setting_has_a_meaning():
    fields = {name.upper() for settings in ALL_SETTINGS for name in settings.model_fields}
    assert fields <= set(MEANINGS), (
        f"no meaning in settings_help.py: {sorted(fields - set(MEANINGS))}"
    )


def test_a_default_is_shown_as_the_user_would_type_it():
    text = environment_help(RecorderSettings, WebSettings)
    assert "[UTC]" in text and "[09:00]" in text and "[false]" in text and "[unset]" in text
    assert "[60]" in text  # DEPARTURE_MIN_GAP, a float of whole seconds
    assert "guest:guest" not in environment_help(CommonSettings)
