"""The data behind the admin client list: a page of clients with each one's balance due, in
one statement, for FAB's own list widget.

FAB's SQLAInterface loads every column and relationship of each row and counts in a
statement of its own. `ClientListInterface.query` keeps FAB's contract (filters, order,
page, page size in; the count and the page's rows out) and reads only the listed columns,
each client's balance due from its rollup row (`client_account`, joined) and the count, in
one statement. The count is the lists' bounded one (app/fab/base.py: exact up to a limit,
PostgreSQL's estimate past it). The rows are plain values: nothing is loaded
lazily when FAB renders them.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import NamedTuple

from flask_appbuilder.models.sqla.filters import FilterContains
from markupsafe import Markup
from sqlalchemy import asc, desc, func, literal, select

from app.billing.accounts import ClientAccount
from app.clients.models import Client
from app.fab.base import ClientelaInterface, count_statement, list_count, row_address
from app.i18n import current_language, format_money
from app.money import CENT


class ClientName(NamedTuple):
    """A listed client's name with the address of its 360° page: in HTML, a link to it. (A FAB
    formatter would not do: it gets the value alone, and the show page formats `name` too.)"""

    href: str
    text: str

    def __str__(self) -> str:
        return self.text

    def __html__(self) -> Markup:
        return Markup('<a href="{}">{}</a>').format(self.href, self.text)


class BalanceDue(NamedTuple):
    """A listed client's balance due, shown in the client's currency."""

    amount: Decimal
    currency: str
    language: str

    def __str__(self) -> str:
        return format_money(self.amount, self.currency, self.language)


@dataclass(frozen=True, slots=True)
class ClientListRow:
    """What a row of the list shows (FAB reads it by attribute, like a model instance)."""

    id: int
    name: ClientName
    email: str
    city: str
    vat_number: str
    archived: bool
    balance_due: BalanceDue


def searched_by_name(filters) -> bool:
    """Whether the list is filtered by a part of the name (FAB's "contains", the search)."""
    return filters is not None and any(isinstance(flt, FilterContains) and flt.column_name == "name"
                                       for flt in filters.filters)


class ClientListInterface(ClientelaInterface):
    """FAB's interface for clients; only the list query differs (see the module docstring)."""

    def query(self, filters=None, order_column="", order_direction="", page=None, page_size=None,
              select_columns=None, outer_default_load=False):
        """How many clients pass the filters, and the requested page of them in that order.

        The count is an uncorrelated subquery, which the database computes once; a page past
        the last one has no row to carry it, so it is then counted on its own. Ties in the
        order column are broken by id, so a page never repeats or skips a client.
        """
        def filtered(statement):
            return filters.apply_all(statement) if filters is not None else statement

        matching = filtered(select(literal(1)).select_from(Client))
        count = count_statement(self.session, matching, self.exact_count_limit)  # count(*): index-only
        direction = desc if order_direction == "desc" else asc
        order = getattr(Client, order_column or "name")
        if order is Client.name and searched_by_name(filters):
            # The trigram index finds the matches, which are then sorted: walking the name
            # index in order would read every non-matching name before them (at 100,000
            # clients, 12,900 rows for the 25 first "Rossi": 70 ms against 30 under load).
            order = func.lower(Client.name)
        page, page_size = max(page or 0, 0), max(page_size or 25, 1)
        # The page is chosen from the clients alone, then joined to the rollup for its rows:
        # joined first, every match would be (5,004 "Rossi" at 100,000 clients: 20 ms
        # against 10).
        chosen = (
            filtered(select(Client.id, order.label("sort_key"),
                            count.correlate(None).scalar_subquery().label("total")))
            .order_by(direction(order), direction(Client.id))
            .offset(page * page_size).limit(page_size)
            .subquery("chosen")
        )
        statement = (
            select(Client.id, Client.name, Client.email, Client.city, Client.vat_number, Client.archived,
                   Client.currency, func.coalesce(ClientAccount.balance_due, 0).label("balance_due"), chosen.c.total)
            .join(chosen, chosen.c.id == Client.id)
            .outerjoin(ClientAccount, ClientAccount.client_id == Client.id)
            .order_by(direction(chosen.c.sort_key), direction(chosen.c.id))
        )
        rows = self.session.execute(statement).all()
        total = list_count(self.session, matching, rows[0].total if rows else None, self.exact_count_limit)
        language = current_language()  # looked up once for the page's amounts, not once per amount
        href = row_address("ClientDashboardView.show", "client_id")  # built once for the page
        return total, [
            ClientListRow(
                id=row.id, name=ClientName(href(row.id), row.name), email=row.email, city=row.city,
                vat_number=row.vat_number, archived=row.archived,
                balance_due=BalanceDue(Decimal(str(row.balance_due)).quantize(CENT), row.currency or "EUR", language),
            )
            for row in rows
        ]
