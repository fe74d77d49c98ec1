"""API fixtures: the real app from the server's composition root, on SQLite and PostgreSQL, in-process.

``TestClient`` speaks real HTTP semantics to the real app (middleware, routing, handlers); only the socket is
missing. Data is created through the embedded SDK on the same database and chunk store, so every
invariant and audit rule runs.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

import modelreg
from modelreg.access import Actor
from modelreg.client.client import Client
from modelreg.connection import open_stores
from modelreg.registry.service import Registry
from modelreg.server import build_app
from modelreg.settings import Settings
from modelreg.types import ModelVersion

Secrets = dict[str, str]


@pytest.fixture
def make_app(database: str, storage_url: str) -> Callable[..., FastAPI]:
    """Build the server's app over the test database, with any server settings overridden."""

    def make(**overrides: Any) -> FastAPI:
        return build_app(Settings(registry=database, storage=storage_url, **overrides))

    return make


@pytest.fixture
def client(make_app: Callable[..., FastAPI]) -> Iterator[TestClient]:
    with TestClient(make_app()) as test_client:
        yield test_client


@pytest.fixture
def embedded(database: str, storage_url: str) -> Iterator[Client]:
    """The embedded SDK over the app's database and chunk store, acting as 'alice' (admin): sets up data."""
    client = modelreg.connect(database, storage=storage_url, actor="alice")
    yield client
    client.close()


@pytest.fixture
def seeded(embedded: Client, model_dir: Path) -> ModelVersion:
    """churn/1 (weights.bin ~3 MB in several chunks, config.json, sub/vocab.txt), @champion on it."""
    return embedded.push("churn", model_dir, metrics={"auc": 0.91}, tags={"k": "v"}, aliases=["champion"])


@pytest.fixture
def secrets(embedded: Client, database: str, storage_url: str) -> Secrets:
    """A secret per kind of caller: viewer, contributor, admin, a revoked and an expired admin token."""
    roles = ("viewer", "contributor", "admin")
    made = {role: _secret(embedded.create_token(role, role=role)) for role in roles}
    made["revoked"] = _secret(embedded.create_token("revoked", role="admin"))
    embedded.revoke_token("revoked")
    made["expired"] = _expired_secret(database, storage_url)
    return made


def _secret(token: Any) -> str:
    assert token.secret is not None
    return str(token.secret)


def _expired_secret(database: str, storage_url: str) -> str:
    """A token created two days ago that expired yesterday (created through a registry with that clock)."""
    metadata, chunks = open_stores(database, storage=storage_url)
    then = datetime.now(UTC) - timedelta(days=2)
    try:
        past = Registry(metadata, chunks, actor=Actor("tester"), clock=lambda: then)
        return _secret(past.create_token("expired", role="admin", expires_at=then + timedelta(days=1)))
    finally:
        metadata.close()


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The one error shape, with the expected status and code; returns the error object."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"error"}
    error: dict[str, Any] = body["error"]
    assert set(error) == {"code", "message", "details"}
    assert error["code"] == code, error
    assert isinstance(error["message"], str) and error["message"]
    assert isinstance(error["details"], dict)
    return error


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()
