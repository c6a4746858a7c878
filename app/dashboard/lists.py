"""Figures beside each row of an admin list, preloaded for the whole page in one query.

FAB builds a list page's cells with `datamodel.get_values(rows, columns)`; this interface
adds a "balance_due" cell to each client from one GROUP BY over the page's ids, so the
client list shows what each client owes without a query per row.
"""
from __future__ import annotations

from decimal import Decimal

from flask import url_for
from flask_appbuilder.models.sqla.interface import SQLAInterface
from markupsafe import Markup

from app.dashboard.queries import balances_due
from app.i18n import format_money

BALANCE_DUE = "balance_due"


class ClientListInterface(SQLAInterface):
    def get_values(self, lst, list_columns):
        model_columns = [column for column in list_columns if column != BALANCE_DUE]
        rows = list(super().get_values(lst, model_columns))
        if BALANCE_DUE in list_columns:
            balances = balances_due([item.id for item in lst])
            for item, row in zip(lst, rows):
                row[BALANCE_DUE] = (balances[item.id], item.currency or "EUR")
        if "name" in list_columns:
            # A click on a client's name opens the 360° page.
            for item, row in zip(lst, rows):
                row["name"] = Markup('<a href="{}">{}</a>').format(
                    url_for("ClientDashboardView.show", client_id=item.id), item.name)
        return rows


def format_balance_due(value: tuple[Decimal, str]) -> str:
    """The formatter for the BALANCE_DUE cell: the amount in the client's currency."""
    amount, currency = value
    return format_money(amount, currency)
