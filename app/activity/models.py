"""The client's timeline: one row per thing that happened, rendered in the reader's language."""
from __future__ import annotations

import datetime as dt

from flask_appbuilder import Model
from sqlalchemy import JSON, DateTime, ForeignKey, Index, Integer, String, func
from sqlalchemy.orm import Mapped, mapped_column


class Activity(Model):
    __tablename__ = "activity"
    __table_args__ = (
        Index("ix_activity_client_created", "client_id", "created_at"),
        # The home page's recent activity: the latest entries, ties by id, read off the index.
        Index("ix_activity_created_id", "created_at", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("client.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(40))
    # Plain values the message is built from (numbers, amounts as strings, names).
    params: Mapped[dict] = mapped_column(JSON, default=dict)
    invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoice.id", ondelete="SET NULL"), nullable=True,
                                                   index=True)
    quote_id: Mapped[int | None] = mapped_column(ForeignKey("quote.id", ondelete="SET NULL"), nullable=True,
                                                 index=True)
    actor: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, server_default=func.now())
