"""The MQTT tests' umqtt.simple comes from the package index as an sdist, unpacked with tarfile and
checked against pinned hashes; pip is not involved, so nothing depends on how pip fails on it."""

from __future__ import annotations

import hashlib
import subprocess

import pytest

from host_tools.errors import UserError
from host_tools.mqtt import umqtt_lib
from host_tools.mqtt.umqtt_lib import SHA256, umqtt_path


def test_umqtt_is_fetched_from_the_index_and_unpacked_with_tarfile(tmp_path, monkeypatch):
    def no_pip(*args, **kwargs):
        raise AssertionError(f"a subprocess was started: {args}")

    monkeypatch.setattr(subprocess, "run", no_pip)
    monkeypatch.setattr(subprocess, "Popen", no_pip)
    folder = umqtt_path(tmp_path / "cache")
    simple = folder / "umqtt" / "simple.py"
    assert hashlib.sha256(simple.read_bytes()).hexdigest() == SHA256
    assert (folder / "umqtt" / "__init__.py").read_text() == ""
    assert umqtt_path(tmp_path / "cache") == folder  # the next call takes this copy as it is


def test_a_damaged_copy_is_fetched_again(tmp_path):
    folder = umqtt_path(tmp_path / "cache")
    (folder / "umqtt" / "simple.py").write_text("# not umqtt\n")
    assert umqtt_path(tmp_path / "cache") == folder
    assert hashlib.sha256((folder / "umqtt" / "simple.py").read_bytes()).hexdigest() == SHA256


def test_an_archive_that_is_not_the_pinned_one_is_refused_in_one_line(tmp_path, monkeypatch):
    monkeypatch.setattr(umqtt_lib, "SDIST_SHA256", "0" * 64)
    with pytest.raises(UserError, match="not the pinned"):
        umqtt_path(tmp_path / "cache")
    assert not (tmp_path / "cache" / "umqtt-simple-1.3.4").exists()
