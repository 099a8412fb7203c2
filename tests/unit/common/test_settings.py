import pytest

from services.common.settings import SettingsError
from services.recognizer.settings import RecognizerSettings
from services.recorder.settings import RecorderSettings

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
