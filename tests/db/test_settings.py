"""Settings: defaults the issue fixes, environment names, the DATABASE_URL alias, URL checks."""

from __future__ import annotations

import pytest

from leadledger.db import ConfigurationError, Settings
from leadledger.db.pool import validate_url


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("LEADLEDGER_DATABASE_URL", "DATABASE_URL", "LEADLEDGER_POOL_MAX_SIZE"):
        monkeypatch.delenv(name, raising=False)


def test_defaults() -> None:
    s = Settings()
    assert s.database_url is None
    assert (s.pool_max_size, s.pool_max_idle, s.connect_timeout, s.statement_timeout) == (20, 30.0, 10, 30.0)
    assert s.retry_attempts == 3


def test_environment_and_alias(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://a@h/db")
    assert Settings().database_url == "postgresql://a@h/db"
    monkeypatch.setenv("LEADLEDGER_DATABASE_URL", "postgresql://b@h/db")
    assert Settings().database_url == "postgresql://b@h/db"  # the specific name wins
    monkeypatch.setenv("LEADLEDGER_POOL_MAX_SIZE", "7")
    assert Settings().pool_max_size == 7


@pytest.mark.parametrize(
    "url", ["postgresql://u@h:5432/db", "postgres://u:p@h/db?sslmode=require", "host=h dbname=db user=u"]
)
def test_valid_urls(url: str) -> None:
    assert validate_url(url) == url


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("", "empty"),
        ("nonsense", "expected postgresql://"),
        ("http://h/db", "scheme 'http'"),
        ("postgresql://u@h:99999/db", "port '99999'"),
        ("host=h port=abc", "port 'abc'"),
    ],
)
def test_invalid_urls(url: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        validate_url(url)
