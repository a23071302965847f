"""On-disk cache of model responses (SQLite in WAL mode, safe across processes).

A response is stored only after a successful generation; errors are never cached. The key
covers everything that can change an answer: the provider's identity (provider, model,
endpoint; never a secret), the full rendered messages, every generation parameter and the
repeat index, so repeats of one case are independent samples.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import sqlite3
import threading
import time
from collections.abc import Iterable
from enum import StrEnum
from pathlib import Path
from typing import Any

from promptsuite.errors import ConfigError
from promptsuite.models import GenerateRequest, Generation

#: Bump when the key recipe changes, so old entries are never misread.
KEY_VERSION = 1


class CacheMode(StrEnum):
    """How the run uses the cache."""

    USE = "use"
    """Read hits, call the model on a miss and store the answer (default)."""
    REFRESH = "refresh"
    """Always call the model and overwrite stored answers."""
    OFF = "off"
    """Neither read nor write."""
    REPLAY = "replay"
    """Answer only from the cache; a miss is an error. For deterministic CI."""

    @classmethod
    def parse(cls, value: str) -> CacheMode:
        try:
            return cls(value)
        except ValueError:
            known = ", ".join(m.value for m in cls)
            raise ConfigError(f"cache mode {value!r} is not one of: {known}") from None


def cache_key(identity: dict[str, Any], request: GenerateRequest, repeat: int) -> str:
    """The hex digest that identifies one request to one backend."""
    payload = {
        "v": KEY_VERSION,
        "backend": identity,
        "messages": [m.to_dict() for m in request.messages],
        "params": request.params.to_dict(),
        "repeat": repeat,
    }
    blob = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


class ResponseCache:
    """A SQLite-backed response store shared by threads and processes.

    Each thread gets its own connection. WAL mode lets readers run beside one writer, and the
    busy timeout makes concurrent pytest-xdist workers wait instead of failing.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._local = threading.local()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as conn:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS responses ("
                " key TEXT PRIMARY KEY, backend TEXT NOT NULL, response TEXT NOT NULL,"
                " created REAL NOT NULL)"
            )

    def _connect(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=60, isolation_level=None)
            conn.execute("PRAGMA busy_timeout=60000")
            _use_wal(conn)
            conn.execute("PRAGMA synchronous=NORMAL")
            self._local.conn = conn
        return conn

    def get(self, key: str) -> Generation | None:
        """The stored generation for ``key``, marked ``cached``, or None."""
        row = (
            self._connect()
            .execute("SELECT response FROM responses WHERE key = ?", (key,))
            .fetchone()
        )
        if row is None:
            return None
        try:
            return Generation.from_dict(json.loads(row[0]), cached=True)
        except (ValueError, KeyError, TypeError):
            return None  # an unreadable row is a miss; the next store replaces it

    def put(self, key: str, identity: dict[str, Any], generation: Generation) -> None:
        """Store a successful generation."""
        self._connect().execute(
            "INSERT OR REPLACE INTO responses (key, backend, response, created)"
            " VALUES (?, ?, ?, ?)",
            (
                key,
                json.dumps(identity, sort_keys=True),
                json.dumps(generation.to_dict(), ensure_ascii=False),
                time.time(),
            ),
        )

    def __len__(self) -> int:
        row = self._connect().execute("SELECT COUNT(*) FROM responses").fetchone()
        return int(row[0])

    def close(self) -> None:
        """Close this thread's connection."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None


def merge_caches(sources: Iterable[str | Path], target: str | Path) -> int:
    """Copy every response of ``sources`` into the cache file ``target``, created if absent.

    Joins the caches of a sharded run into one cassette (and starts a shard's own cache
    from the shared one). Where two files hold the same key, the newer answer stays. The
    sources are only read: a source without a write-ahead log beside it is opened as
    immutable, so a committed cassette gains no ``-wal``/``-shm`` files.

    Returns:
        How many responses ``target`` holds afterwards.

    Raises:
        ConfigError: A source is missing or is not a promptsuite response cache.
    """
    cache = ResponseCache(target)
    conn = cache._connect()
    try:
        for source in sources:
            rows = _read_responses(Path(source))
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.executemany(
                    "INSERT INTO responses (key, backend, response, created) VALUES (?, ?, ?, ?)"
                    " ON CONFLICT(key) DO UPDATE SET backend = excluded.backend,"
                    " response = excluded.response, created = excluded.created"
                    " WHERE excluded.created > responses.created",
                    rows,
                )
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        return len(cache)
    finally:
        cache.close()


def _read_responses(path: Path) -> list[tuple[str, str, str, float]]:
    if not path.is_file():
        raise ConfigError(f"{path}: no such cache file")
    wal = path.with_name(path.name + "-wal").exists()
    uri = f"{path.resolve().as_uri()}?{'mode=ro' if wal else 'immutable=1'}"
    try:
        with contextlib.closing(sqlite3.connect(uri, uri=True)) as conn:
            rows = conn.execute("SELECT key, backend, response, created FROM responses").fetchall()
    except sqlite3.DatabaseError as exc:
        raise ConfigError(f"{path}: not a promptsuite response cache ({exc})") from None
    return [(str(k), str(b), str(r), float(c)) for k, b, r, c in rows]


def _use_wal(conn: sqlite3.Connection, attempts: int = 50) -> None:
    """Switch the file to WAL, waiting out other processes doing the same.

    The switch needs an exclusive lock, and SQLite's busy handler does not cover it: when
    several pytest-xdist workers open a new cache at once, all but one get "database is
    locked". WAL is a property of the file, so once any process has switched it, the others
    find it switched.
    """
    for attempt in range(attempts):
        try:
            mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
            if str(mode).lower() != "wal":
                conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == attempts - 1:
                raise
            time.sleep(0.05 * (attempt + 1))
