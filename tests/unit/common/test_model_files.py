"""Model files are downloaded with their sha256 checked, never left half-written, and a failure
is one line per file (URL, expected sha256, destination), served here by a local HTTP server."""

from __future__ import annotations

import hashlib
import http.server
import io
import socket
import threading

import pytest

from services.common import model_files
from services.common.model_files import (
    ModelDownloadError,
    ModelFile,
    ModelFileError,
    download_models,
    ensure_models,
    resolve_model_file,
)

pytestmark = pytest.mark.unit

PINNED = "tiny-pinned.bin"
UNPINNED = "tiny-unpinned.bin"
CONTENT = b"a small stand-in for a model file\n" * 1000


class Files(http.server.BaseHTTPRequestHandler):
    served: dict[str, bytes] = {}

    def do_GET(self) -> None:
        body = self.served.get(self.path.lstrip("/"))
        if body is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Files)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()
    Files.served = {}


@pytest.fixture
def known_files(monkeypatch, server):
    """Two small model files the code knows: one with a pinned hash, one whose official
    download is accepted by the hash recorded when it was fetched."""
    digest = hashlib.sha256(CONTENT).hexdigest()
    files = {
        PINNED: ModelFile(PINNED, "pinned test file", (digest,), f"{server}/{PINNED}", 1),
        UNPINNED: ModelFile(UNPINNED, "unpinned test file", ("0" * 64,), f"{server}/{UNPINNED}", 1),
    }
    monkeypatch.setattr(model_files, "MODEL_FILES", files)
    monkeypatch.setattr(model_files, "_UNPINNED_DOWNLOADS", frozenset({UNPINNED}))
    return files


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_download_with_the_pinned_hash_is_saved_and_then_resolves(known_files, tmp_path):
    Files.served = {PINNED: CONTENT}
    [path] = download_models(tmp_path, [PINNED], progress=False)
    assert path == tmp_path / PINNED and path.read_bytes() == CONTENT
    assert resolve_model_file(tmp_path, PINNED) == path


def test_a_download_with_another_hash_is_refused_and_leaves_nothing(known_files, tmp_path):
    Files.served = {PINNED: b"tampered" + CONTENT}
    with pytest.raises(ModelDownloadError) as caught:
        download_models(tmp_path, [PINNED], progress=False)
    assert "sha256" in str(caught.value) and str(tmp_path / PINNED) in str(caught.value)
    assert list(tmp_path.iterdir()) == []


def test_an_official_download_is_accepted_by_the_hash_recorded_beside_it(known_files, tmp_path):
    Files.served = {UNPINNED: CONTENT}
    [path] = download_models(tmp_path, [UNPINNED], progress=False)
    assert resolve_model_file(tmp_path, UNPINNED) == path
    path.write_bytes(b"corrupted later")
    with pytest.raises(ModelFileError, match="corrupt"):
        resolve_model_file(tmp_path, UNPINNED)


def test_an_intact_file_is_not_downloaded_again(known_files, tmp_path):
    (tmp_path / PINNED).write_bytes(CONTENT)
    # Nothing is served: a download would fail.
    assert download_models(tmp_path, [PINNED], progress=False) == [tmp_path / PINNED]


def test_a_failed_download_is_one_line_per_file_with_url_hash_and_destination(
    known_files, tmp_path
):
    Files.served = {}
    with pytest.raises(ModelDownloadError) as caught:
        download_models(tmp_path, progress=False)
    lines = str(caught.value).splitlines()
    assert len(lines) == 2
    for line, spec in zip(lines, known_files.values(), strict=True):
        assert line.startswith(f"{spec.name}: download failed (HTTP 404)")
        assert spec.url in line and spec.sha256[0] in line and str(tmp_path / spec.name) in line


def test_the_progress_bar_is_drawn_on_standard_error(known_files, tmp_path, monkeypatch):
    Files.served = {PINNED: CONTENT}
    stderr = io.StringIO()
    monkeypatch.setattr("sys.stderr", stderr)
    download_models(tmp_path, [PINNED], progress=True)
    assert PINNED in stderr.getvalue() and "100%" in stderr.getvalue()


def test_ensure_models_downloads_what_is_missing(known_files, tmp_path):
    Files.served = {PINNED: CONTENT}
    assert ensure_models([PINNED], tmp_path) == [tmp_path / PINNED]


def test_without_a_network_ensure_models_says_what_where_and_how_in_one_line(
    known_files, tmp_path, monkeypatch
):
    port = _closed_port()
    for name, spec in list(known_files.items()):
        known_files[name] = ModelFile(
            spec.name, spec.description, spec.sha256, f"http://127.0.0.1:{port}/x", 1
        )
    monkeypatch.delenv("ATTENDANCE_MODELS_DIR", raising=False)
    with pytest.raises(ModelFileError) as caught:
        ensure_models([PINNED], tmp_path, given_as="--models-dir")
    message = str(caught.value)
    assert "\n" not in message
    assert PINNED in message and str(tmp_path) in message and "--models-dir" in message
    assert "no network" in message and "ATTENDANCE_MODELS_DIR" in message
    assert not (tmp_path / PINNED).exists()


def test_a_corrupt_file_is_not_replaced_behind_the_users_back(known_files, tmp_path):
    Files.served = {PINNED: CONTENT}
    (tmp_path / PINNED).write_bytes(b"something else")
    with pytest.raises(ModelFileError, match="corrupt"):
        ensure_models([PINNED], tmp_path)
    assert (tmp_path / PINNED).read_bytes() == b"something else"
