"""Clients and their contacts: the heart of the CRM."""
from __future__ import annotations

import datetime as dt
import enum

from flask_appbuilder import Model
from sqlalchemy import DDL, Boolean, DateTime, ForeignKey, Index, Integer, String, Text, event, false, func
from sqlalchemy.orm import Mapped, mapped_column, relationship


class ClientKind(str, enum.Enum):
    BUSINESS = "business"
    INDIVIDUAL = "individual"
    PUBLIC_ADMINISTRATION = "public_administration"


class Client(Model):
    __tablename__ = "client"
    __table_args__ = (
        # The client list's default page: clients not archived, by name (ties by id, as FAB
        # sorts), handed over in order without sorting 100,000 names.
        Index("ix_client_archived_name_id", "archived", "name", "id"),
        # The list's search, `name ILIKE '%rossi%'`, on PostgreSQL: a trigram index answers a
        # match anywhere in the name (a b-tree only a prefix). SQLite scans, as it always did.
        Index("ix_client_name_trgm", "name", postgresql_using="gin", postgresql_ops={"name": "gin_trgm_ops"},
              info={"only_on": ("postgresql",)}).ddl_if(dialect="postgresql"),  # info: migrations/env.py
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    kind: Mapped[str] = mapped_column(String(30), default=ClientKind.BUSINESS.value)
    email: Mapped[str] = mapped_column(String(200), default="", index=True)
    phone: Mapped[str] = mapped_column(String(50), default="")
    address: Mapped[str] = mapped_column(String(200), default="")
    city: Mapped[str] = mapped_column(String(100), default="", index=True)
    province: Mapped[str] = mapped_column(String(50), default="")
    postal_code: Mapped[str] = mapped_column(String(20), default="")
    country: Mapped[str] = mapped_column(String(2), default="IT")
    vat_number: Mapped[str] = mapped_column(String(30), default="", index=True)
    tax_code: Mapped[str] = mapped_column(String(30), default="")
    sdi_code: Mapped[str] = mapped_column(String(7), default="")
    pec: Mapped[str] = mapped_column(String(200), default="")
    # Scissione dei pagamenti (art. 17-ter DPR 633/72): the client pays the VAT to the State,
    # so it pays us the taxable amount only.
    split_payment: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Sostituto d'imposta: withholds the company's ritenuta d'acconto (app.clients.validation
    # gives Italian businesses and public administrations true by default, never a private person).
    withholding_agent: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    language: Mapped[str] = mapped_column(String(5), default="it")
    currency: Mapped[str] = mapped_column(String(3), default="EUR")
    notes: Mapped[str] = mapped_column(Text, default="")
    archived: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, server_default=func.now())

    contacts: Mapped[list["Contact"]] = relationship(
        back_populates="client",
        cascade="all, delete-orphan",
        order_by="(Contact.is_primary.desc(), Contact.id)",
        lazy="selectin",
    )

    def __repr__(self) -> str:
        return self.name

    @property
    def primary_contact(self) -> "Contact | None":
        return next((c for c in self.contacts if c.is_primary), self.contacts[0] if self.contacts else None)


class Contact(Model):
    """A person at the client; each contact is also a portal identity."""

    __tablename__ = "contact"
    # A portal session names its contact by id: on SQLite an id must never be handed to a
    # new contact after a removal (PostgreSQL's sequences never reuse one anyway).
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("client.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(200), index=True)
    phone: Mapped[str] = mapped_column(String(50), default="")
    is_primary: Mapped[bool] = mapped_column(Boolean, default=False)
    portal_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # Bumped on logout and revocation: every portal session carries it, so copied cookies die.
    session_version: Mapped[int] = mapped_column(Integer, default=1)

    client: Mapped[Client] = relationship(back_populates="contacts")

    def __repr__(self) -> str:
        return f"{self.name} <{self.email}>"


# The trigram operator class comes from PostgreSQL's pg_trgm extension (contrib, in every
# Debian/Docker PostgreSQL); the migration creates it too.
event.listen(Client.__table__, "before_create",
             DDL("CREATE EXTENSION IF NOT EXISTS pg_trgm").execute_if(dialect="postgresql"))
