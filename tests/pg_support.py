"""Tests on both engines: the `dbs` fixture (tests/conftest.py) gives a database location per name, a
file for SQLite or a fresh database on the PostgreSQL server of TEST_DATABASE_URL (.ci/run starts one;
without it the PostgreSQL runs are skipped, saying why)."""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from storage.db import on_postgres

TEST_URL = os.environ.get("TEST_DATABASE_URL", "")
NO_SERVER = "no PostgreSQL server: set TEST_DATABASE_URL (.ci/run starts one with .ci/postgres)"
ENGINES = ["sqlite", pytest.param("postgresql", marks=pytest.mark.skipif(not TEST_URL, reason=NO_SERVER))]


def with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


async def create_database(template: str | None = None) -> str:
    """A new database on the test server (empty, or a copy of `template`'s); its URL."""
    name = f"t_{uuid.uuid4().hex[:16]}"
    copy = f" TEMPLATE {urlsplit(template).path.lstrip('/')}" if template else ""
    async with await psycopg.AsyncConnection.connect(TEST_URL, autocommit=True) as conn:
        await conn.execute(f"CREATE DATABASE {name}{copy}")
    return with_database(TEST_URL, name)


def drop_databases_now(urls: list[str]) -> None:
    """Drop these test databases (blocking: from a plain fixture's teardown)."""
    if not urls:
        return
    with psycopg.connect(TEST_URL, autocommit=True) as conn:
        for url in urls:
            conn.execute(f"DROP DATABASE IF EXISTS {urlsplit(url).path.lstrip('/')} WITH (FORCE)")


async def drop_database(url: str) -> None:
    name = urlsplit(url).path.lstrip("/")
    async with await psycopg.AsyncConnection.connect(TEST_URL, autocommit=True) as conn:
        await conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


class Databases:
    """`await dbs("a.db")`: the location of the test's database called "a.db" (the same one each time)."""

    def __init__(self, engine: str, tmp_path: Path) -> None:
        self.engine = engine
        self.tmp_path = tmp_path
        self._urls: dict[str, str] = {}

    @property
    def pg(self) -> bool:
        return self.engine == "postgresql"

    async def __call__(self, name: str = "test.db") -> str | Path:
        if not self.pg:
            return self.tmp_path / name
        if name not in self._urls:
            self._urls[name] = await create_database()
        return self._urls[name]

    async def cleanup(self) -> None:
        for url in self._urls.values():
            await drop_database(url)


async def table_names(conn: Any) -> list[str]:
    """The database's tables on either engine (a test's scan of every table)."""
    if on_postgres(conn):
        cur = await conn.execute("SELECT table_name FROM information_schema.tables WHERE table_schema ="
                                 " current_schema() AND table_type = 'BASE TABLE' AND table_name != 'schema_version'")
    else:
        cur = await conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
    return sorted(str(r[0]) for r in await cur.fetchall())
