"""`clientela backup FILE`: a consistent copy of the database while the app keeps running.

SQLite: the online backup API (`sqlite3.Connection.backup`), which copies the pages under
SQLite's own locking, so a write in the middle never leaves a torn file (a plain `cp` can).
PostgreSQL: `pg_dump` in its custom format, one consistent snapshot; this module builds the
command (printed for the operator, run when pg_dump is on PATH). Restoring is in
docs/operations.md.
"""
from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess

from sqlalchemy.engine import URL


class BackupRefused(Exception):
    """The backup cannot be made as asked; nothing was written."""


def backup_sqlite(url: URL, path: str) -> int:
    """Copy the SQLite database at `url` into a new file at `path`; returns its page count."""
    create_private(path)
    source = sqlite3.connect(url.database)
    target = sqlite3.connect(path)
    try:
        source.backup(target)
        return target.execute("PRAGMA page_count").fetchone()[0]
    finally:
        target.close()
        source.close()


def create_private(path: str) -> None:
    """Create the new, empty backup file, readable by its owner only (it holds password hashes
    and every client's data); never overwrite one: it may be the last good backup."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        raise BackupRefused(f"{path} already exists; name a new file") from None


def pg_dump_command(url: URL, path: str) -> tuple[list[str], dict[str, str]]:
    """The pg_dump call for `url` and the environment it needs. Custom format (compressed,
    restorable table by table, in parallel); without owners and grants, so it restores under
    whichever role the new server gives Clientela. The password travels in PGPASSWORD, never
    on the command line where `ps` shows it."""
    plain = url.set(drivername="postgresql", password=None)  # libpq knows no "+psycopg"
    command = ["pg_dump", "--format=custom", "--no-owner", "--no-privileges", f"--file={path}",
               f"--dbname={plain.render_as_string(hide_password=False)}"]
    env = {"PGPASSWORD": url.password} if url.password else {}
    return command, env


def pg_dump_available() -> bool:
    return shutil.which("pg_dump") is not None


def run_pg_dump(command: list[str], env: dict[str, str], path: str) -> None:
    create_private(path)
    result = subprocess.run(command, env={**os.environ, **env}, capture_output=True, text=True)
    if result.returncode != 0:
        os.remove(path)
        raise BackupRefused(f"pg_dump failed: {result.stderr.strip()}")
