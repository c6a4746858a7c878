"""Document revisions: a counter on each invoice, quote and credit note that moves whenever anything
printed on it changes (its columns, its lines; payments move paid and balance, so they too).

The PDF cache compares revisions instead of rendering a document's HTML to find out whether
its stored PDF is still current, which is what makes a ZIP of 500 cached PDFs cheap.
The bump is `revision = revision + 1` in SQL, so two transactions changing the same document
at once end two revisions later, never on one revision for two different contents.
"""
from __future__ import annotations

from sqlalchemy import event, inspect
from sqlalchemy.orm import Session

from app.billing.models import DOCUMENT_CLASSES, LINE_CLASSES, line_document

# Columns that change without changing the printed document.
NOT_PRINTED = frozenset({"revision", "viewed_at", "updated_at", "created_at", "overdue_marked",
                         "sdi_status", "sdi_file_name", "sdi_errors"})


def _printed_columns_changed(document) -> bool:
    state = inspect(document)
    return any(
        state.attrs[column.key].history.has_changes()
        for column in state.mapper.column_attrs
        if column.key not in NOT_PRINTED
    )


@event.listens_for(Session, "before_flush")
def _bump_revisions(session: Session, _context, _instances) -> None:
    changed: dict[int, object] = {}
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, LINE_CLASSES):
            if obj in session.dirty and not session.is_modified(obj):
                continue
            document = line_document(session, obj)
        elif isinstance(obj, DOCUMENT_CLASSES) and obj in session.dirty and _printed_columns_changed(obj):
            document = obj
        else:
            continue
        if document is not None and inspect(document).persistent and document not in session.deleted:
            changed[id(document)] = document
    for document in changed.values():
        document.revision = type(document).revision + 1
