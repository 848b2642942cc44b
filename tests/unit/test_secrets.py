"""SecretValue never shows its value; SecretRef resolves lazily; fingerprints are keyed."""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import hmac
import logging
import pickle
from pathlib import Path

import pytest

from reconciler.errors import SecretError
from reconciler.manifest.secrets import FINGERPRINT_PREFIX, REDACTED, SecretRef, SecretValue, fingerprint

CANARY = "CANARY-s3cr3t-4b1d"


def test_secret_value_is_redacted_everywhere() -> None:
    secret = SecretValue(CANARY)
    shown = [repr(secret), str(secret), f"{secret}", f"{secret!r}", f"{secret!s}", f"{secret:>40}",
             "{}".format(secret), "%s" % secret, "%r" % secret, repr([secret]), repr({"k": secret}),
             str((secret,))]
    for text in shown:
        assert CANARY not in text
    assert str(secret) == REDACTED
    assert secret.reveal() == CANARY


def test_secret_value_in_logs_and_exceptions(caplog: pytest.LogCaptureFixture) -> None:
    secret = SecretValue(CANARY)
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("authctl.test").info("token=%s %r", secret, secret)
    assert CANARY not in caplog.text
    assert CANARY not in str(ValueError(secret))


def test_secret_value_cannot_be_pickled() -> None:
    secret = SecretValue(CANARY)
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        with pytest.raises(TypeError, match="cannot be pickled"):
            pickle.dumps(secret, protocol=protocol)
    with pytest.raises(TypeError):
        pickle.dumps({"nested": [secret]})


def test_secret_value_copies_are_itself() -> None:
    @dataclasses.dataclass
    class Holder:
        token: SecretValue

    secret = SecretValue(CANARY)
    assert copy.copy(secret) is secret
    assert copy.deepcopy({"k": [secret]})["k"][0] is secret
    assert dataclasses.asdict(Holder(secret)) == {"token": secret}


def test_secret_value_equality_and_hash() -> None:
    assert SecretValue("a") == SecretValue("a")
    assert SecretValue("a") != SecretValue("b")
    assert SecretValue("a") != "a"
    assert hash(SecretValue("a")) == hash(SecretValue("a"))
    assert len({SecretValue("a"), SecretValue("a"), SecretValue("b")}) == 2


def test_secret_value_has_no_dict_to_leak() -> None:
    secret = SecretValue(CANARY)
    assert not hasattr(secret, "__dict__")
    with pytest.raises(AttributeError):
        secret.extra = 1  # type: ignore[attr-defined]


# -- references -------------------------------------------------------------------------------

def test_env_reference_resolves_from_the_given_environment(tmp_path: Path) -> None:
    ref = SecretRef("env", "FB_TOKEN")
    assert ref.describe() == "FB_TOKEN"
    assert ref.is_available(tmp_path, {"FB_TOKEN": CANARY})
    assert not ref.is_available(tmp_path, {})
    value = ref.resolve(tmp_path, {"FB_TOKEN": CANARY})
    assert isinstance(value, SecretValue)
    assert value.reveal() == CANARY


def test_env_reference_defaults_to_os_environ(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTHCTL_TEST_SECRET", CANARY)
    assert SecretRef("env", "AUTHCTL_TEST_SECRET").resolve(tmp_path).reveal() == CANARY


def test_missing_env_names_the_variable_not_a_value(tmp_path: Path) -> None:
    ref = SecretRef("env", "FB_TOKEN")
    with pytest.raises(SecretError) as info:
        ref.resolve(tmp_path, {"OTHER": CANARY})
    assert "FB_TOKEN" in str(info.value)
    assert CANARY not in str(info.value)
    assert ref.unavailable_reason() == "FB_TOKEN is not set"


def test_file_reference_is_relative_to_the_root(tmp_path: Path) -> None:
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "sa.json").write_text('{"type": "service_account"}\n', encoding="utf-8")
    ref = SecretRef("file", "secrets/sa.json")
    assert ref.describe() == "file secrets/sa.json"
    assert ref.is_available(tmp_path)
    assert ref.resolve(tmp_path).reveal() == '{"type": "service_account"}'  # trailing newline dropped
    assert not ref.is_available(tmp_path / "secrets")


def test_missing_or_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(SecretError, match="secret file secrets/none.json not found"):
        SecretRef("file", "secrets/none.json").resolve(tmp_path)
    (tmp_path / "bin.key").write_bytes(b"\xff\xfe" + CANARY.encode())
    with pytest.raises(SecretError) as info:
        SecretRef("file", "bin.key").resolve(tmp_path)
    assert "bin.key" in str(info.value) and CANARY not in str(info.value)
    (tmp_path / "folder").mkdir()
    with pytest.raises(SecretError, match="secret file folder cannot be read"):
        SecretRef("file", "folder").resolve(tmp_path)
    assert SecretRef("file", "x").unavailable_reason() == "file x is not readable"


# -- fingerprints -----------------------------------------------------------------------------

def test_fingerprint_is_a_prefixed_keyed_hmac() -> None:
    digest = fingerprint(b"key-1", SecretValue(CANARY))
    assert digest.startswith(FINGERPRINT_PREFIX) and FINGERPRINT_PREFIX == "hmac-sha256:"
    assert digest == FINGERPRINT_PREFIX + hmac.new(b"key-1", CANARY.encode(), hashlib.sha256).hexdigest()
    assert CANARY not in digest
    assert digest != FINGERPRINT_PREFIX + hashlib.sha256(CANARY.encode()).hexdigest()  # keyed, not plain


def test_fingerprint_depends_on_key_and_value() -> None:
    same = fingerprint(b"key-1", SecretValue(CANARY))
    assert fingerprint(b"key-1", SecretValue(CANARY)) == same
    assert fingerprint(b"key-1", CANARY) == same  # plain text (canonical config) hashes the same way
    assert fingerprint(b"key-2", SecretValue(CANARY)) != same
    assert fingerprint(b"key-1", SecretValue(CANARY + "x")) != same
