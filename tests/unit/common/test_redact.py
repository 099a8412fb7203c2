import pytest

from services.common.redact import redact_url

pytestmark = pytest.mark.unit

CASES = [
    ("rtsp://admin:s3cret@10.0.0.7:554/stream1", "rtsp://***@10.0.0.7:554/stream1"),
    ("rtsps://admin:s3cret@cam.example/live", "rtsps://***@cam.example/live"),
    ("http://viewer:s3cret@cam.local/mjpeg", "http://***@cam.local/mjpeg"),
    ("https://u:s3cret@cam.local:8443/video?x=1", "https://***@cam.local:8443/video?x=1"),
    ("amqp://guest:s3cret@rabbitmq:5672/%2F", "amqp://***@rabbitmq:5672/%2F"),
    ("redis://:s3cret@redis:6379/0", "redis://***@redis:6379/0"),
    (
        "mongodb://app:s3cret@db1:27017,db2:27017/attendance?authSource=admin",
        "mongodb://***@db1:27017,db2:27017/attendance?authSource=admin",
    ),
    # Unescaped special characters in the password: nothing of it may show.
    ("rtsp://admin:p@ss:w/rd#1@10.0.0.7/h264", "rtsp://***@10.0.0.7/h264"),
    ("rtsp://admin:p%40ss%3Aw@10.0.0.7/h264", "rtsp://***@10.0.0.7/h264"),
    ("rtsp://admin@10.0.0.7/h264", "rtsp://***@10.0.0.7/h264"),
    # Cameras that take their credentials as query parameters.
    (
        "http://cam.local/snapshot.cgi?user=admin&pwd=s3cret&res=1",
        "http://cam.local/snapshot.cgi?user=***&pwd=***&res=1",
    ),
    ("http://cam.local/video?Password=s3cret", "http://cam.local/video?Password=***"),
    # URLs inside messages, quoted or not, several at once.
    (
        "cannot open stream 'rtsp://admin:s3cret@10.0.0.7/live'; retrying",
        "cannot open stream 'rtsp://***@10.0.0.7/live'; retrying",
    ),
    (
        'input_value="amqp://a:s3cret@h/v" and redis://b:s3cret@r:6379',
        'input_value="amqp://***@h/v" and redis://***@r:6379',
    ),
    # Nothing to hide: unchanged.
    ("rtsp://10.0.0.7:554/stream1", "rtsp://10.0.0.7:554/stream1"),
    ("amqp://rabbitmq:5672/%2F", "amqp://rabbitmq:5672/%2F"),
    ("no url here, just user@example.com", "no url here, just user@example.com"),
    ("", ""),
]


@pytest.mark.parametrize(("text", "shown"), CASES)
def test_every_url_loses_its_credentials_and_keeps_the_rest(text, shown):
    assert redact_url(text) == shown


@pytest.mark.parametrize(("text", "_shown"), CASES)
def test_no_password_survives_redaction(text, _shown):
    redacted = redact_url(text)
    for secret in ("s3cret", "p@ss", "p%40ss", "w/rd"):
        assert secret not in redacted
