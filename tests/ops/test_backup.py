"""`clientela backup FILE` and the restore docs/operations.md describes, on demo data: back up,
change things, restore, and the data is as it was at the backup.

SQLite (the SQLite pass): the online backup API, restored by copying the file back.
PostgreSQL (the PostgreSQL pass): pg_dump's custom format, restored with
`pg_restore --clean --if-exists --no-owner --no-privileges` into the same database.
"""
from __future__ import annotations

import os
import shutil
import stat
import subprocess
from decimal import Decimal

from flask_appbuilder import Model
from sqlalchemy import func, select, update

from app.billing.models import Invoice, Payment
from app.clients.models import Client
from app.extensions import db


def _cli(app, *args: str):
    result = app.test_cli_runner().invoke(args=["clientela", *args], catch_exceptions=False)
    return result


def _state() -> dict:
    """What a user would notice: how many rows of each kind, the money, the client names."""
    db.session.expire_all()
    counts = {table.name: db.session.scalar(select(func.count()).select_from(table))
              for table in Model.metadata.sorted_tables}
    money: tuple[Decimal, Decimal] = (db.session.scalar(select(func.sum(Invoice.total))),
                                      db.session.scalar(select(func.sum(Payment.amount))))
    names = sorted(db.session.scalars(select(Client.name)))
    db.session.commit()
    return {"counts": counts, "money": money, "names": names}


def _restore(backup_file: str) -> None:
    """The documented restore, with the app's connections closed first (Clientela stopped)."""
    db.session.remove()
    url = db.engine.url
    db.engine.dispose()
    if url.get_backend_name() == "sqlite":
        shutil.copyfile(backup_file, url.database)
        return
    plain = url.set(drivername="postgresql").render_as_string(hide_password=False)
    subprocess.run(["pg_restore", "--clean", "--if-exists", "--no-owner", "--no-privileges",
                    f"--dbname={plain}", backup_file], check=True, capture_output=True, text=True)


def test_a_backup_restored_brings_the_data_back_as_it_was(app, tmp_path):
    for args in (["init"], ["demo", "--clients", "3", "--invoices-per-client", "4", "--seed", "11"]):
        assert _cli(app, *args).exit_code == 0
    at_backup = _state()
    assert at_backup["counts"]["invoice"] == 12 and at_backup["money"][1] > 0
    backup_file = str(tmp_path / "clientela.backup")

    result = _cli(app, "backup", backup_file)

    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(os.stat(backup_file).st_mode) == 0o600, "the backup is for its owner's eyes only"
    if db.engine.url.get_backend_name() == "postgresql":
        assert "pg_dump --format=custom --no-owner --no-privileges" in result.output
    # Life goes on after the backup: more clients and invoices, a renamed client.
    assert _cli(app, "demo", "--clients", "2", "--invoices-per-client", "3", "--seed", "12").exit_code == 0
    db.session.execute(update(Client).where(Client.name == at_backup["names"][0]).values(name="Rinominata S.r.l."))
    db.session.commit()
    assert _state() != at_backup

    _restore(backup_file)

    assert _state() == at_backup


def test_a_backup_never_overwrites_a_file(app, tmp_path):
    existing = tmp_path / "last-good.backup"
    existing.write_bytes(b"the last good backup")

    result = _cli(app, "backup", str(existing))

    assert result.exit_code != 0 and "already exists" in result.output
    assert existing.read_bytes() == b"the last good backup"
