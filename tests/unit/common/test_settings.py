import pytest

from services.common.settings import SettingsError
from services.recognizer.settings import RecognizerSettings
from services.recorder.settings import RecorderSettings
from services.web.settings import WebSettings

pytestmark = pytest.mark.unit


def test_settings_are_read_from_the_environment_case_insensitively():
    settings = RecorderSettings.from_env({"site_timezone": "Europe/Paris", "DAY_START_HOUR": "4"})
    assert settings.site_timezone == "Europe/Paris"
    assert settings.day_start_hour == 4


def test_a_misspelt_attendance_variable_is_refused_by_name():
    with pytest.raises(SettingsError, match="ATTENDANCE_MODEL_DIR"):
        RecorderSettings.from_env({"ATTENDANCE_MODEL_DIR": "/models"})


def test_an_unknown_time_zone_is_refused():
    with pytest.raises(SettingsError, match="unknown IANA time zone"):
        RecorderSettings.from_env({"SITE_TIMEZONE": "Mars/Olympus"})


def test_an_out_of_range_threshold_is_refused():
    with pytest.raises(SettingsError, match="MATCH_THRESHOLD=3"):
        RecognizerSettings.from_env({"MATCH_THRESHOLD": "3"})


def test_unrelated_environment_variables_are_ignored():
    assert RecorderSettings.from_env({"HOME": "/root", "PATH": "/bin"}).mongo_db == "attendance"


def test_settings_from_a_given_mapping_ignore_the_machine_s_environment(monkeypatch):
    monkeypatch.setenv("SITE_TIMEZONE", "Europe/Paris")
    monkeypatch.setenv("DEPARTURE_MIN_GAP", "5")
    assert RecorderSettings.from_env({}).site_timezone == "UTC"
    assert RecorderSettings.from_env().site_timezone == "Europe/Paris"


def test_the_recorder_and_the_web_read_the_site_s_day_alike():
    environment = {"SITE_TIMEZONE": "Asia/Tokyo", "DAY_START_HOUR": "4", "DEPARTURE_MIN_GAP": "90"}
    recorder = RecorderSettings.from_env(environment)
    web = WebSettings.from_env({**environment, "WEB_SECRET_KEY": "k" * 32})
    assert (recorder.zone, recorder.day_start_hour, recorder.departure_gap) == (
        web.zone,
        web.day_start_hour,
        web.departure_gap,
    )


def test_a_secret_not_in_the_environment_is_read_from_the_secrets_folder(tmp_path):
    (tmp_path / "web_secret_key").write_text("a-key-from-a-compose-secret-file\n")
    (tmp_path / "web_admin_password").write_text("an admin passphrase from a file\n")
    settings = WebSettings.from_env({"ATTENDANCE_SECRETS_DIR": str(tmp_path)})
    assert settings.web_secret_key.get_secret_value() == "a-key-from-a-compose-secret-file"
    assert settings.web_admin_password.get_secret_value() == "an admin passphrase from a file"
    assert settings.web_viewer_password is None


def test_the_environment_wins_over_the_secrets_folder(tmp_path):
    (tmp_path / "web_secret_key").write_text("the-file-key-is-not-used-here")
    environment = {"ATTENDANCE_SECRETS_DIR": str(tmp_path), "WEB_SECRET_KEY": "k" * 32}
    assert WebSettings.from_env(environment).web_secret_key.get_secret_value() == "k" * 32


def test_secrets_never_show_in_the_settings_repr():
    settings = WebSettings.from_env(
        {"WEB_SECRET_KEY": "k" * 32, "WEB_ADMIN_PASSWORD": "an admin passphrase"}
    )
    assert "k" * 32 not in repr(settings)
    assert "an admin passphrase" not in repr(settings)
