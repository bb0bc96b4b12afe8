"""The planted-secrets scanner finds a secret in every form a leak gives it: otherwise the
campaign (tests/e2e/test_planted_secrets.py) would pass whatever leaked."""

from __future__ import annotations

import base64
import json

import pytest
from telethon.crypto import AuthKey
from telethon.sessions import StringSession

from tests.support.planted import PLANTED, Planted, auth_key

SECRET = b"s3cr/t+pw@x=y z"
SCANNER = Planted({"pw": SECRET})


@pytest.mark.parametrize(
    "leak",
    [
        b"password " + SECRET + b" in a log line",
        b"redis://:s3cr%2Ft%2Bpw%40x%3Dy%20z@127.0.0.1:6379/0",
        b"GET /?p=s3cr%2Ft%2Bpw%40x%3Dy+z HTTP/1.1",
        json.dumps({"error": "bad " + SECRET.decode()}).encode(),
        repr(("key", SECRET)).encode(),
        b"key=" + SECRET.hex().encode(),
        *(base64.b64encode(head + SECRET + b"!") for head in (b"", b"a", b"ab")),
        *(base64.urlsafe_b64encode(head + SECRET) for head in (b"", b"a", b"ab")),
    ],
)
def test_a_secret_is_found_in_every_form_a_leak_gives_it(leak):
    assert SCANNER.leaks(b"before " + leak + b" after") == {"pw"}


def test_a_session_string_is_found_as_its_planted_auth_key():
    session = StringSession()
    session.set_dc(2, "127.0.0.1", 443)
    session.auth_key = AuthKey(auth_key(1))
    assert PLANTED.leaks(f"accounts: {session.save()}\n") == {"auth key 1"}


def test_a_piece_of_a_planted_value_is_still_a_leak():
    assert PLANTED.leaks("Authorization: Bearer sk-ant-PLANTED-anthr…") == {"marker"}


def test_what_holds_no_secret_is_clean(tmp_path):
    clean = "planted lowercase, s3cr/t alone, the bot id 7770042 and sk-ant- prefixes"
    assert PLANTED.leaks(clean) == SCANNER.leaks(clean) == set()
    (tmp_path / "report.json").write_text(clean)
    assert PLANTED.leaks_in_files(tmp_path) == {}


def test_files_are_searched_by_name_and_contents_at_any_depth(tmp_path):
    deep = tmp_path / "cache" / "ab"
    deep.mkdir(parents=True)
    (deep / "entry.json").write_bytes(b'{"token": "' + SECRET + b'"}')
    (tmp_path / f"{SECRET.hex()}.json").write_text("{}")
    (tmp_path / "clean.txt").write_text("nothing here")
    assert SCANNER.leaks_in_files(tmp_path) == {
        str(deep / "entry.json"): {"pw"},
        str(tmp_path / f"{SECRET.hex()}.json"): {"pw"},
    }
