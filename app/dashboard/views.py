"""The admin's home page: the business dashboard.

Staff with the Dashboard read permission see receivables, overdue invoices, revenue per
month, aging, top clients by balance due, quotes awaiting an answer and recent activity;
everyone else is sent to the login page (FAB's default index would greet anonymous visitors).
"""
from __future__ import annotations

import datetime as dt

from flask_appbuilder import expose, has_access
from flask_babel import format_date
from flask_babel import lazy_gettext as _l

from app.activity.services import describe
from app.company.services import get_company
from app.dashboard import queries
from app.billing.aging import AGING_LABELS
from app.dashboard.charts import Bar, bar_chart
from app.fab.base import ClientelaIndexView
from app.i18n import format_money



class DashboardIndexView(ClientelaIndexView):
    index_template = "admin/index.html"
    class_permission_name = "Dashboard"
    method_permission_name = {"index": "read"}

    @expose("/")
    @has_access
    def index(self):
        self.update_redirect()
        today = dt.date.today()
        currency = get_company().currency or "EUR"
        overview = queries.business_overview(currency, today)
        if not self.appbuilder.sm.has_access("can_read", "Ticket"):
            overview["open_tickets"] = None  # no ticket card for staff who cannot open the inbox
        receivables = overview["receivables"]
        revenue_chart = bar_chart(
            [Bar(format_date(start, "MMM yy"), amount, format_money(amount, currency))
             for start, amount in overview["revenue_by_month"]],
            title=str(_l("Revenue per month (payments received)")),
        )
        aging_chart = bar_chart(
            [Bar(str(AGING_LABELS[bucket]), amount, format_money(amount, currency))
             for bucket, amount in receivables.aging.items()],
            title=str(_l("Aging of open invoices")),
            color="#d9534f",
        )
        return self.render_template(
            self.index_template,
            appbuilder=self.appbuilder,
            overview=overview,
            receivables=receivables,
            currency=currency,
            revenue_chart=revenue_chart,
            aging_chart=aging_chart,
            timeline=[(entry, client_name, describe(entry)) for entry, client_name in overview["recent_activity"]],
        )
