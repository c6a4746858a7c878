"""The client summary counts what has fallen due since the last overdue mark from the partial
index that holds only those invoices, however many invoices the mark has already reached.

Left to itself, SQLite's planner took (client_id, status, due_date) and walked every marked
invoice: the bench's large client's summary cost 5.5 times a small one's (docs/performance.md,
"Seventh pass"). The plan is read from the database the suite runs on, its statistics and
indexes as autovacuum would leave them.
"""
from __future__ import annotations

from sqlalchemy import event

from app.billing.accounts import client_summary, mark_overdue_invoices
from app.billing.models import UNMARKED_DUE_INDEX
from app.extensions import db
from tests.support.factories import make_client
from tests.support.queries import add_documents


def summary_statement(client_id: int) -> tuple[str, object]:
    """The one statement the summary runs, with its parameters."""
    statements = []

    def capture(_conn, _cursor, statement, parameters, *_args):
        statements.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", capture)
    try:
        client_summary(client_id)
    finally:
        event.remove(db.engine, "before_cursor_execute", capture)
    assert len(statements) == 1
    return statements[0]


def query_plan(statement: str, parameters: object) -> str:
    connection = db.session.connection()
    explain = "EXPLAIN QUERY PLAN " if connection.dialect.name == "sqlite" else "EXPLAIN "
    return "\n".join(str(row[-1]) for row in connection.exec_driver_sql(explain + statement, parameters))


def vacuum_and_analyze() -> None:
    """Statistics, and indexes rid of the rows earlier tests deleted, as autovacuum keeps a
    live database (this machine's PostgreSQL runs without it; the bench does the same)."""
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql("VACUUM ANALYZE invoice, quote" if connection.dialect.name == "postgresql"
                                   else "ANALYZE")


def test_the_summary_reads_fallen_due_invoices_from_the_partial_index_alone():
    client_id = make_client().id
    add_documents(client_id, 600)  # 100 sent and past due
    assert mark_overdue_invoices() == 100
    add_documents(client_id, 6)  # one more past due, not marked yet
    db.session.commit()
    vacuum_and_analyze()

    plan = query_plan(*summary_statement(client_id))

    assert UNMARKED_DUE_INDEX in plan, plan
    assert "ix_invoice_client_status_due_date" not in plan, plan
    assert client_summary(client_id)["invoices"]["overdue"] == 101
