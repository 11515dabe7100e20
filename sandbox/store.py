"""SQLite storage of the sandbox CRM (its own file, WAL mode, independent of Django's database).

Rows are JSON documents keyed by (entity set, id) with the row version in its own column;
unique/alternate keys live in `ukeys`, deletions leave tombstones for change tracking, N:N
links live in `links`, the privileges of imported security roles in `role_privileges`. One
writer at a time (a process-wide lock); readers never block.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sandbox import clock

SCHEMA = """
CREATE TABLE IF NOT EXISTS rows (
    set_name TEXT NOT NULL, id TEXT NOT NULL, version INTEGER NOT NULL, data TEXT NOT NULL,
    PRIMARY KEY (set_name, id)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS rows_version ON rows (set_name, version);
CREATE TABLE IF NOT EXISTS ukeys (
    set_name TEXT NOT NULL, key_name TEXT NOT NULL, key_value TEXT NOT NULL, id TEXT NOT NULL,
    PRIMARY KEY (set_name, key_name, key_value)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS ukeys_id ON ukeys (set_name, id);
CREATE TABLE IF NOT EXISTS tombstones (
    set_name TEXT NOT NULL, id TEXT NOT NULL, version INTEGER NOT NULL, deleted_at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS tombstones_version ON tombstones (set_name, version);
CREATE TABLE IF NOT EXISTS links (
    rel TEXT NOT NULL, a TEXT NOT NULL, b TEXT NOT NULL, PRIMARY KEY (rel, a, b)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS links_b ON links (rel, b);
CREATE TABLE IF NOT EXISTS role_privileges (
    role_id TEXT NOT NULL, privilege TEXT NOT NULL COLLATE NOCASE, level TEXT NOT NULL,
    PRIMARY KEY (role_id, privilege)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS role_privileges_name ON role_privileges (privilege);
CREATE TABLE IF NOT EXISTS tokens (
    token TEXT PRIMARY KEY, user_id TEXT NOT NULL, expires REAL NOT NULL);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


class UniqueViolation(Exception):
    def __init__(self, key_name: str) -> None:
        super().__init__(key_name)
        self.key_name = key_name


class DuplicateId(Exception):
    pass


class Store:
    def __init__(self, path: str) -> None:
        self.path = path
        self.write_lock = threading.RLock()
        self._local = threading.local()
        conn = self.conn
        conn.executescript(SCHEMA)
        row = conn.execute("SELECT MAX(version) FROM rows").fetchone()
        tomb = conn.execute("SELECT MAX(version) FROM tombstones").fetchone()
        meta = conn.execute("SELECT value FROM meta WHERE key='version'").fetchone()
        self._version = max(row[0] or 0, tomb[0] or 0, int(meta[0]) if meta else 0, 1000)
        self._committed = self._version

    # ------------------------------------------------------------------ connections

    @property
    def conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA busy_timeout=10000")
            self._local.conn = conn
            self._local.depth = 0
        return conn

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One SQLite transaction; nested calls join the outer one (change sets, bulk)."""
        conn = self.conn
        if self._local.depth:
            self._local.depth += 1
            try:
                yield
            finally:
                self._local.depth -= 1
            return
        with self.write_lock:
            conn.execute("BEGIN IMMEDIATE")
            self._local.depth = 1
            try:
                yield
            except BaseException:
                conn.execute("ROLLBACK")
                self._committed = self._version
                raise
            else:
                conn.execute("COMMIT")
                # writers are serialized, so every version handed out so far is now visible
                self._committed = self._version
            finally:
                self._local.depth = 0

    @contextmanager
    def savepoint(self) -> Iterator[Callable[[], None]]:
        """A nested atomic unit inside the current transaction; yields a function that
        undoes it (the caller decides from the answer, not from an exception)."""
        self._local.savepoints = getattr(self._local, "savepoints", 0) + 1
        name = f"sp{self._local.savepoints}"
        self.conn.execute(f"SAVEPOINT {name}")
        undone = False

        def undo() -> None:
            nonlocal undone
            self.conn.execute(f"ROLLBACK TO {name}")
            undone = True

        try:
            yield undo
        except BaseException:
            if not undone:
                self.conn.execute(f"ROLLBACK TO {name}")
            raise
        finally:
            self.conn.execute(f"RELEASE {name}")
            self._local.savepoints -= 1

    @property
    def in_transaction(self) -> bool:
        self.conn  # noqa: B018 - makes sure the thread-local state exists
        return bool(self._local.depth)

    def next_version(self) -> int:
        self._version += 1
        return self._version

    @property
    def current_version(self) -> int:
        """The newest version readers can see (never one of a transaction still open)."""
        return self._committed

    # ------------------------------------------------------------------ rows

    def get(self, set_name: str, row_id: str) -> dict[str, Any] | None:
        found = self.conn.execute(
            "SELECT data FROM rows WHERE set_name=? AND id=?", (set_name, row_id)
        ).fetchone()
        return json.loads(found[0]) if found else None

    def scan(self, set_name: str) -> list[dict[str, Any]]:
        return [
            json.loads(r[0])
            for r in self.conn.execute("SELECT data FROM rows WHERE set_name=?", (set_name,))
        ]

    def scan_since(self, set_name: str, after: int, upto: int) -> list[dict[str, Any]]:
        return [
            json.loads(r[0])
            for r in self.conn.execute(
                "SELECT data FROM rows WHERE set_name=? AND version>? AND version<=? "
                "ORDER BY version",
                (set_name, after, upto),
            )
        ]

    def count(self, set_name: str) -> int:
        return self.conn.execute(
            "SELECT COUNT(*) FROM rows WHERE set_name=?", (set_name,)
        ).fetchone()[0]

    def insert(self, set_name: str, row_id: str, row: dict[str, Any], keys: dict[str, str]) -> None:
        try:
            self.conn.execute(
                "INSERT INTO rows (set_name, id, version, data) VALUES (?, ?, ?, ?)",
                (set_name, row_id, row["versionnumber"], json.dumps(row)),
            )
        except sqlite3.IntegrityError as exc:
            raise DuplicateId(row_id) from exc
        self._put_keys(set_name, row_id, keys)

    def replace(
        self, set_name: str, row_id: str, row: dict[str, Any], keys: dict[str, str]
    ) -> None:
        self.conn.execute(
            "UPDATE rows SET version=?, data=? WHERE set_name=? AND id=?",
            (row["versionnumber"], json.dumps(row), set_name, row_id),
        )
        self.conn.execute("DELETE FROM ukeys WHERE set_name=? AND id=?", (set_name, row_id))
        self._put_keys(set_name, row_id, keys)

    def _put_keys(self, set_name: str, row_id: str, keys: dict[str, str]) -> None:
        for key_name, key_value in keys.items():
            try:
                self.conn.execute(
                    "INSERT INTO ukeys (set_name, key_name, key_value, id) VALUES (?, ?, ?, ?)",
                    (set_name, key_name, key_value, row_id),
                )
            except sqlite3.IntegrityError as exc:
                raise UniqueViolation(key_name) from exc

    def delete(self, set_name: str, row_id: str, version: int) -> None:
        self.conn.execute("DELETE FROM rows WHERE set_name=? AND id=?", (set_name, row_id))
        self.conn.execute("DELETE FROM ukeys WHERE set_name=? AND id=?", (set_name, row_id))
        self.conn.execute(
            "INSERT INTO tombstones (set_name, id, version, deleted_at) VALUES (?, ?, ?, ?)",
            (set_name, row_id, version, clock.now()),
        )
        for rel_side in ("a", "b"):
            self.conn.execute(f"DELETE FROM links WHERE {rel_side}=?", (row_id,))  # noqa: S608

    def find_key(self, set_name: str, key_name: str, key_value: str) -> str | None:
        found = self.conn.execute(
            "SELECT id FROM ukeys WHERE set_name=? AND key_name=? AND key_value=?",
            (set_name, key_name, key_value),
        ).fetchone()
        return found[0] if found else None

    def tombstones_since(self, set_name: str, after: int, upto: int) -> list[tuple[str, int]]:
        return list(
            self.conn.execute(
                "SELECT id, version FROM tombstones WHERE set_name=? AND version>? AND version<=? "
                "ORDER BY version",
                (set_name, after, upto),
            )
        )

    # ------------------------------------------------------------------ N:N links

    def link(self, rel: str, a: str, b: str) -> None:
        self.conn.execute("INSERT OR IGNORE INTO links (rel, a, b) VALUES (?, ?, ?)", (rel, a, b))

    def unlink(self, rel: str, a: str, b: str) -> int:
        return self.conn.execute(
            "DELETE FROM links WHERE rel=? AND a=? AND b=?", (rel, a, b)
        ).rowcount

    def linked(self, rel: str, side: str, row_id: str) -> list[str]:
        if side == "a":
            sql = "SELECT b FROM links WHERE rel=? AND a=? ORDER BY b"
        else:
            sql = "SELECT a FROM links WHERE rel=? AND b=? ORDER BY a"
        return [r[0] for r in self.conn.execute(sql, (rel, row_id))]

    # ------------------------------------------------------------------ role privileges

    def set_role_privileges(self, role_id: str, privileges: dict[str, str]) -> None:
        """Replace the privileges (name -> depth) a role grants (ImportSolution)."""
        self.conn.execute("DELETE FROM role_privileges WHERE role_id=?", (role_id,))
        self.conn.executemany(
            "INSERT INTO role_privileges (role_id, privilege, level) VALUES (?, ?, ?)",
            [(role_id, name, level) for name, level in privileges.items()],
        )

    def role_privileges(self, role_id: str) -> dict[str, str]:
        return dict(
            self.conn.execute(
                "SELECT privilege, level FROM role_privileges WHERE role_id=? ORDER BY privilege",
                (role_id,),
            )
        )

    def roles_granting(self, privilege: str) -> set[str]:
        """The ids of the roles that grant `privilege` at any depth but `None`."""
        return {
            r[0]
            for r in self.conn.execute(
                "SELECT role_id FROM role_privileges WHERE privilege=? AND level != 'None'",
                (privilege,),
            )
        }

    # ------------------------------------------------------------------ tokens and meta

    def save_token(self, token: str, user_id: str, expires: float) -> None:
        with self.transaction():
            self.conn.execute(
                "INSERT INTO tokens (token, user_id, expires) VALUES (?, ?, ?)",
                (token, user_id, expires),
            )
            self.conn.execute("DELETE FROM tokens WHERE expires < ?", (clock.now() - 3600,))

    def load_token(self, token: str) -> tuple[str, float] | None:
        found = self.conn.execute(
            "SELECT user_id, expires FROM tokens WHERE token=?", (token,)
        ).fetchone()
        return (found[0], found[1]) if found else None

    def get_meta(self, key: str) -> str | None:
        found = self.conn.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return found[0] if found else None

    def set_meta(self, key: str, value: str) -> None:
        self.conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    def wipe(self) -> None:
        """Empty every table (inside a transaction); tokens stay valid across a reset."""
        for table in ("rows", "ukeys", "tombstones", "links", "role_privileges"):
            self.conn.execute(f"DELETE FROM {table}")  # noqa: S608
        self.conn.execute("DELETE FROM meta WHERE key != 'version'")
