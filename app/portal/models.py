"""Portal sign-in links. Only a SHA-256 of each link's secret is stored, never the secret."""
from __future__ import annotations

import datetime as dt

from flask_appbuilder import Model
from sqlalchemy import Boolean, DateTime, ForeignKey, Integer, String, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.clients.models import Contact


class PortalToken(Model):
    """One sign-in link, bound to one contact: expires, may be single-use, may be revoked."""

    __tablename__ = "portal_token"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contact.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # Why the link was sent ("statement", "invoice", "quote", "login"): for staff and the timeline.
    purpose: Mapped[str] = mapped_column(String(20), default="statement")
    # A path inside /portal to land on after sign-in (the document the email was about).
    target: Mapped[str | None] = mapped_column(String(300), nullable=True)
    single_use: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, server_default=func.now())
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime)
    used_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)

    contact: Mapped[Contact] = relationship(lazy="joined")

    def __repr__(self) -> str:
        return f"PortalToken #{self.id} ({self.purpose})"
