"""The admin client list: a page of clients with each one's balance due, in one statement.

FAB's list machinery rebuilds its catalogue of filters several times per request, loads
every column and relationship of each row, counts in a statement of its own, and asks
`url_for` and a translation for every button of every row. The client list keeps FAB's
request arguments (`_flt_…`, `_oc_…`, `page_…`, `psize_…`), its filter objects, its
permission checks and its markup, and reads the page (only the columns shown), each
client's balance due from its rollup row (`client_account`) and the count together.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from decimal import Decimal
from urllib.parse import urlencode

from flask import request, url_for
from flask_appbuilder.models.filters import Filters
from flask_babel import gettext as _
from markupsafe import Markup, escape
from sqlalchemy import Select, asc, desc, func, select

from app.billing.accounts import ClientAccount
from app.clients.models import Client
from app.extensions import db
from app.i18n import current_language, format_money

BALANCE_DUE = "balance_due"
CENT = Decimal("0.01")

# What a row of the list reads: the columns it shows, what its cells need, and the key.
_ROW_COLUMNS = (Client.id, Client.name, Client.email, Client.city, Client.vat_number, Client.archived,
                Client.currency)


def client_page(filters: Iterable[Filters], order_column: str, order_direction: str, page: int,
                page_size: int) -> tuple[int, list[int], list[dict[str, object]]]:
    """How many clients pass the filters, and the requested page of them in that order:
    their ids and, for each, the values of the list's columns (FAB's `get_values` shape).

    One statement: the page's rows with each client's balance due from its rollup row (no
    row yet: nothing due) and the count as an uncorrelated subquery, which the database
    computes once. A page past the last one has no row to carry the count: it is then
    counted on its own. Ties in the order column are broken by id, as FAB does, so a page
    never repeats or skips a client. The name is a link to the client's 360° page.
    """
    def filtered(statement: Select) -> Select:
        for filter_set in filters:
            statement = filter_set.apply_all(statement)
        return statement

    count = filtered(select(func.count()).select_from(Client))  # count(*): an index-only scan can answer
    direction = asc if order_direction == "asc" else desc
    statement = (
        filtered(select(*_ROW_COLUMNS, func.coalesce(ClientAccount.balance_due, 0).label("balance_due"),
                        count.correlate(None).scalar_subquery().label("total")))
        .outerjoin(ClientAccount, ClientAccount.client_id == Client.id)
        .order_by(direction(getattr(Client, order_column)), direction(Client.id))
        .offset(page * page_size).limit(page_size)
    )
    rows = db.session.execute(statement).all()
    total = rows[0].total if rows else db.session.scalar(count) or 0
    dashboard_url = url_for_each("ClientDashboardView.show", "client_id")
    language = current_language()  # looked up once for the page's amounts, not once per amount
    values = [
        {
            "name": Markup('<a href="{}">{}</a>').format(dashboard_url(row.id), row.name),
            "email": row.email, "city": row.city, "vat_number": row.vat_number, "archived": row.archived,
            BALANCE_DUE: (Decimal(str(row.balance_due)).quantize(CENT), row.currency or "EUR", language),
        }
        for row in rows
    ]
    return total, [row.id for row in rows], values


def format_balance_due(value: tuple[Decimal, str, str]) -> str:
    """The formatter for the BALANCE_DUE cell: the amount in the client's currency."""
    amount, currency, language = value
    return format_money(amount, currency, language)


def url_for_each(endpoint: str, key: str) -> Callable[[int], str]:
    """`url_for(endpoint, key=id)` for every row of a page, with the route built once.

    The URL is built for a placeholder id and the row's id put in its place; if the
    placeholder could be confused with the rest of the URL, each row gets its own `url_for`.
    """
    placeholder = 987654321
    built = url_for(endpoint, **{key: placeholder})
    if built.count(str(placeholder)) != 1:
        return lambda pk: url_for(endpoint, **{key: pk})
    before, after = built.split(str(placeholder))
    return lambda pk: f"{before}{int(pk)}{after}"


class ListLinks:
    """The list's own links (sorting, paging, page size) as FAB's template filters make
    them: this page's URL with one argument changed, built from one `url_for`."""

    def __init__(self, view_name: str) -> None:
        self.view_name = view_name
        self._base = url_for(request.endpoint, **(request.view_args or {}))
        self._args = request.args.to_dict()

    def _with(self, **changes) -> str:
        return self._base + "?" + urlencode({**self._args, **changes})

    def order(self, column: str) -> str:
        """FAB's `link_order`: ascending first, then the other way on each click."""
        order_key, direction_key = "_oc_" + self.view_name, "_od_" + self.view_name
        if order_key in self._args:
            direction = "desc" if self._args.get(direction_key) == "asc" else "asc"
        else:
            direction = "asc"
        return self._with(**{order_key: column, direction_key: direction})

    def order_state(self, column: str) -> int:
        """FAB's `get_link_order`: 2 ascending, 1 descending, 0 not the order column."""
        if self._args.get("_oc_" + self.view_name) != column:
            return 0
        return 2 if self._args.get("_od_" + self.view_name) == "asc" else 1

    def page(self, page: int) -> str:
        return self._with(**{"page_" + self.view_name: page})

    def page_size(self, page_size: int) -> str:
        return self._with(**{"psize_" + self.view_name: page_size})


class ClientRows:
    """The body of the client table, as FAB's list widget writes it (a checkbox for the bulk
    actions, the show / edit / delete buttons, each column through its formatter), built in
    Python: Jinja would spend a call and a lookup on every cell of every row."""

    def __init__(self, view_name: str, pks: list[int], values: list[dict[str, object]], columns: list[str],
                 formatters: dict[str, Callable]) -> None:
        self.pks, self.values, self.columns, self.formatters = pks, values, columns, formatters
        self.urls = {action: url_for_each(f"{view_name}.{action}", "pk") for action in ("show", "edit", "delete")}

    def __call__(self, checkbox: bool, show: bool, edit: bool, delete: bool) -> Markup:
        # Each button's markup is filled in once per page, cut where each row's URL goes.
        buttons = [
            (self.urls[action], *str(Markup(template).format(title=title, text=text, url=_URL)).split(_URL))
            for action, allowed, template, title, text in (
                ("show", show, _SHOW, _("Show record"), _("Show")),
                ("edit", edit, _EDIT, _("Edit record"), _("Edit")),
                ("delete", delete, _DELETE, _("Delete record"), _("Delete")),
            )
            if allowed
        ]
        cells = [(column, self.formatters.get(column)) for column in self.columns]
        rows = []
        for pk, item in zip(self.pks, self.values):
            row = ["<tr>"]
            if checkbox:
                row.append(f'<td><input id="{pk}" class="action_check" name="rowid" value="{pk}" type="checkbox"></td>')
            if buttons:
                row.append('<td><center><div class="btn-group btn-group-xs" style="display: flex;">')
                row.extend(f"{before}{escape(url(pk))}{after}" for url, before, after in buttons)
                row.append("</div></center></td>")
            for column, formatter in cells:
                value = item[column]
                row.append(f"<td>{escape(formatter(value) if formatter else value)}</td>")
            row.append("</tr>")
            rows.append("".join(row))
        return Markup("\n".join(rows))


_URL = Markup("\x00")  # where a row's URL goes in a button's markup
_SHOW = ('<a href="{url}" class="btn btn-sm btn-default" data-toggle="tooltip" rel="tooltip" title="{title}">'
         '<span class="sr-only">{text}</span><i class="fa fa-search"></i></a>')
_EDIT = ('<a href="{url}" class="btn btn-sm btn-default" data-toggle="tooltip" rel="tooltip" title="{title}">'
         '<span class="sr-only">{text}</span><i class="fa fa-edit"></i></a>')
# One script on the page handles every delete button (FAB writes one per row).
_DELETE = ('<a href="#" data-delete-url="{url}" class="btn btn-sm btn-default confirm" rel="tooltip" '
           'title="{title}"><span class="sr-only">{text}</span><i class="fa fa-trash"></i></a>')
