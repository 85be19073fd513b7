"""The store URL in the start-up log never shows a password."""

from __future__ import annotations

import pytest

from server.config import without_password


@pytest.mark.parametrize(
    ("url", "logged"),
    [
        ("mongodb://app:s3cr%40t@db1:27017/memoria", "mongodb://app:***@db1:27017/memoria"),
        (
            "mongodb+srv://app:p@ss@cluster.example.net/m",
            "mongodb+srv://app:***@cluster.example.net/m",
        ),
        (
            "mongodb://app@db1/memoria?authMechanism=MONGODB-X509",
            "mongodb://app@db1/memoria?authMechanism=MONGODB-X509",
        ),
        ("mongodb://db1:27017/memoria", "mongodb://db1:27017/memoria"),
        ("sqlite:///./var/memoria.db", "sqlite:///./var/memoria.db"),
    ],
)
def test_passwords_are_hidden(url: str, logged: str) -> None:
    assert without_password(url) == logged
