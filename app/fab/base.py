"""The bases every admin view and REST API of Clientela derives from.

What a FAB view should do for Clientela but does not by default is said here once, by FAB's
own means (route configuration, `@before_request` hooks, overridden handlers), instead of
being patched onto every request of the app:

- the generic `/download/<filename>` route is not registered: it serves UPLOAD_FOLDER, which
  Clientela never uses (logos and attachments live in the database);
- `/action/<name>/<pk>` and `/action_post` answer like every other admin page (an unknown
  action is not found, a forbidden one is 403, or the sign-in page for a visitor) and reach
  only rows the view itself lists: FAB fetches an action's rows without `base_filters`;
- a REST list refuses a negative page or page size with FAB's 400 (rison or JSON `q`);
- a list's count (`ClientelaInterface`) stops being exact past EXACT_COUNT_LIMIT rows on PostgreSQL: the
  pager and the API's `count` then show the planner's estimate ("about 1,000,000") instead of
  paying a count(*) over a million rows on every page (docs/scaling.md);
- a page reads in the user's language: the titles FAB makes up ("List Invoice Line") go through
  the catalog, an empty value shows as nothing rather than "None", a yes/no as "Sì"/"No", a
  language by its name ("Italiano", not "it"), and
  each view may say what it saved (`add_row_message`, `edit_row_message`, `delete_row_message`)
  instead of FAB's "Added Row";
- a list draws its rows cheaply: a column goes through `shown_value` only when the model
  says it can be empty or a yes/no, and the row buttons' labels and links are made once per
  page (`ClientelaListWidget`, app/fab/workarounds.py item 7);
- after a delete the user is back where they pressed it (the list, or the page that shows the
  row's parent), not on the home page.

Tests: tests/security/test_authz_matrix.py, tests/security/test_bad_input.py, tests/fab/test_fab_bases.py,
tests/fab/test_list_paging.py, tests/test_italian_pages.py, tests/fab/test_admin_layout.py.
"""
from __future__ import annotations

import time
from typing import Callable
from urllib.parse import urlsplit

from flask import abort, redirect, request, url_for
from flask_appbuilder import BaseView, IndexView, ModelView
from flask_appbuilder.api import BaseApi, ModelRestApi
from flask_appbuilder.hooks import before_request
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy import Select, func, literal, select
from sqlalchemy.orm import Session
from werkzeug.routing import BuildError

from app.fab.workarounds import ClientelaListWidget
from app.i18n import LANGUAGE_CHOICES, format_number

_TITLES = ("list_title", "add_title", "edit_title", "show_title")


def shown_value(value: object) -> object:
    """A column's value as a list or show page prints it: nothing for an empty value, a yes/no
    in the reader's language (Jinja would print "None", "True", "False")."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    return value


def language_label(code: str | None) -> object:
    """A language column ("language", "locale") shows the language's name, not its code."""
    return dict(LANGUAGE_CHOICES).get(code, shown_value(code))


_NAMED_COLUMNS = {"language": language_label, "locale": language_label}


def _may_be_empty_or_yes_no(datamodel: SQLAInterface, column: str) -> bool:
    """Whether `shown_value` can change what a column prints (an empty value, a yes/no). A
    column the model declares NOT NULL and not boolean never needs it, so a list's cells skip
    a call each; a name the model has no column for (a property, a method, a value the list
    interface computes) may hold anything."""
    if datamodel.is_relation(column):
        return datamodel.is_relation_many_to_one(column) and datamodel.is_nullable(column)
    declared = datamodel.list_columns.get(column)
    return declared is None or bool(declared.nullable) or datamodel.is_boolean(column)


# A number no address holds otherwise, where a row's id goes (row_address).
_ID_MARK = 918273645


def row_address(endpoint: str, key: str) -> Callable[[object], str | None]:
    """The address of a row's page (`endpoint` with the row's id as `key`), built once for a
    page of rows: each row puts its id in (url_for costs tens of microseconds, and a list or
    the 360 page called it for every row). Gives None for every row when the endpoint is not
    registered in this build."""
    try:
        address = url_for(endpoint, **{key: _ID_MARK})
    except BuildError:
        return lambda _row_id: None
    mark = str(_ID_MARK)
    return lambda row_id: address.replace(mark, str(row_id))


class GuardedModelViewMixin:
    """Route configuration and action checks for any FAB ModelView (ours and FAB's own
    security views, see app/fab/security.py). A view that excludes more routes extends the
    set: `exclude_route_methods = ClientelaModelView.exclude_route_methods | {...}`."""

    exclude_route_methods = frozenset({"download"})

    def __init__(self, **kwargs):
        made_up = [name for name in _TITLES if not getattr(self, name)]
        super().__init__(**kwargs)
        # FAB writes "List " + the class name in English; the catalog translates the whole title
        # (app/fab/messages.py lists the ones the UI shows).
        for name in made_up:
            setattr(self, name, _l(getattr(self, name)))
        self.title = self.list_title
        columns = [*self.list_columns, *self.show_columns]
        self.formatters_columns = {**{column: _NAMED_COLUMNS.get(column, shown_value) for column in columns
                                      if column in _NAMED_COLUMNS or _may_be_empty_or_yes_no(self.datamodel, column)},
                                   **self.formatters_columns}

    def post_delete_redirect(self):
        """Back to the page the delete was pressed on (a list, or the page that shows the row's
        parent), unless that page showed the deleted row: then to this view's list. FAB goes
        two steps back in its page history, which from a list is the home page."""
        referrer = urlsplit(request.referrer or "")
        own_pages = (f"{self.route_base}/show/", f"{self.route_base}/edit/")
        if referrer.netloc == request.host and not referrer.path.startswith(own_pages):
            return redirect(referrer.path + (f"?{referrer.query}" if referrer.query else ""))
        return redirect(url_for(f"{self.endpoint}.list"))

    @before_request(only=["action", "action_post"])
    def _actions_answer_like_pages(self):
        """Runs before FAB's handler: FAB looks the action up before checking it exists (an
        unknown name is an AttributeError, a 500: app/fab/workarounds.py) and answers a
        forbidden one with a redirect."""
        if request.endpoint.endswith(".action_post"):
            name, pks = request.form.get("action"), request.form.getlist("rowid")
        else:
            name, pks = request.view_args["name"], [request.view_args["pk"]]
        if name not in self.actions:
            abort(404)
        sm = self.appbuilder.sm
        if not sm.has_access(self.get_action_permission_name(name), self.class_permission_name):
            if current_user.is_authenticated:
                abort(403)
            return redirect(url_for(sm.auth_view.endpoint + ".login", next=request.url))
        if any(self.datamodel.get(self._deserialize_pk_if_composite(pk), self._base_filters) is None
               for pk in pks):
            abort(404)  # a row this view does not list is not there for its actions either
        return None


class ClientelaModelView(GuardedModelViewMixin, ModelView):
    """Every CRUD admin view (clients, invoices, quotes, payments, outbox, …). A view says what
    it saved in its own words ("Cliente salvato") by setting the three messages."""

    list_widget = ClientelaListWidget

    add_row_message = _l("Saved.")
    edit_row_message = _l("Changes saved.")
    delete_row_message = _l("Deleted.")


class ClientelaBaseView(BaseView):
    """An admin page that is not a model's CRUD (the client 360° page)."""


class ClientelaIndexView(IndexView):
    """The admin home page. A visitor who opens it is sent to the sign-in page, as the address
    anyone types first; FAB would show it "Access is denied" in red on that page."""

    @before_request(only=["index"])
    def _visitors_sign_in_first(self):
        if current_user.is_authenticated:
            return None
        return redirect(url_for(self.appbuilder.sm.auth_view.endpoint + ".login"))


class NonNegativePagingMixin:
    """FAB turns a negative `page` or `page_size` of a list query into a negative OFFSET or
    LIMIT, which PostgreSQL refuses with a 500 (see app/fab/workarounds.py): refuse it as the
    bad input it is, in FAB's 400 shape. FAB has parsed `q` (rison or JSON) by now."""

    def get_list_headless(self, **kwargs):
        query = kwargs.get("rison", {})
        if any(isinstance(query.get(name), (int, float)) and query[name] < 0 for name in ("page", "page_size")):
            return self.response_400(message=_("The page and the page size must be zero or more."))
        return super().get_list_headless(**kwargs)


class ClientelaBaseApi(BaseApi):
    """A REST API that is not a model's CRUD (email templates)."""


class ClientelaModelRestApi(NonNegativePagingMixin, ModelRestApi):
    """Every model REST API (clients, invoices, quotes, tickets)."""


# ── list counts ─────────────────────────────────────────────────────────────────────────────

# 40 pages of 25: counting 1,001 index entries costs a fraction of a millisecond; counting the
# 5,000 clients a "Rossi" search matches at 100,000 clients cost 15-30 ms (their heap rows).
EXACT_COUNT_LIMIT = 1_000


class EstimatedCount(int):
    """A list's row count past the exact limit: PostgreSQL's planner estimate. It pages like
    the int it is (FAB's pager divides it by the page size; the API's JSON has the number)
    and shows as "about 1,000,000" where a template prints it."""

    def __html__(self) -> Markup:
        return Markup.escape(_("about %(count)s", count=format_number(int(self))))


def _estimates(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def count_statement(session: Session, rows: Select, limit: int = EXACT_COUNT_LIMIT) -> Select:
    """The statement that counts `rows` for a list. On PostgreSQL it stops at `limit` + 1, so
    it reads at most that many index entries however large the table; SQLite, the embedded
    single-office mode, counts them all."""
    rows = rows.order_by(None)
    return select(func.count()).select_from((rows.limit(limit + 1) if _estimates(session) else rows).subquery())


def list_count(session: Session, rows: Select, counted: int | None = None,
               limit: int = EXACT_COUNT_LIMIT) -> int:
    """The count a list shows for `rows`: exact up to `limit` rows, else (PostgreSQL) the
    planner's estimate, never below what was counted. `counted`: the result of
    `count_statement` if the caller has read it already (inside the page's statement)."""
    if counted is None:
        counted = session.scalar(count_statement(session, rows, limit))
    if counted <= limit or not _estimates(session):
        return counted
    # With an IN list (the ticket inbox's statuses) bound as one expanding parameter, the SQL
    # only exists once the list is spelled out: render it, with each value its own parameter.
    compiled = rows.order_by(None).compile(dialect=session.get_bind().dialect,
                                           compile_kwargs={"render_postcompile": True})
    key = (str(compiled), repr((session.get_bind().url, sorted(compiled.params.items()))))
    now = time.monotonic()
    kept = _ESTIMATES.get(key)
    if kept is None or now - kept[0] > ESTIMATE_SECONDS:
        plan = session.connection().exec_driver_sql("EXPLAIN (FORMAT JSON) " + key[0], compiled.params).scalar()
        if len(_ESTIMATES) >= 256:  # a bounded memo (lists × filters in use): start afresh
            _ESTIMATES.clear()
        kept = _ESTIMATES[key] = (now, int(plan[0]["Plan"]["Plan Rows"]))
    return EstimatedCount(max(kept[1], counted))


# An estimate is kept a minute per process: the next pages of the same list (and other
# staff's) skip the EXPLAIN round trip; the figure is approximate anyway.
ESTIMATE_SECONDS = 60.0
_ESTIMATES: dict[tuple[str, str], tuple[float, int]] = {}


class ClientelaInterface(SQLAInterface):
    """FAB's SQLAlchemy interface for Clientela's lists (admin and REST): the count that FAB
    runs beside each page is `list_count`, the filters and joins FAB would apply included."""

    exact_count_limit = EXACT_COUNT_LIMIT

    def query_count(self, query, filters=None, select_columns=None) -> int:
        query = self.apply_inner_select_joins(query, select_columns, {})
        query = self.apply_filters(query, self.get_inner_filters(filters))
        rows = query.statement.with_only_columns(literal(1), maintain_column_froms=True)  # FROM the model, its joins
        return list_count(self.session, rows, limit=self.exact_count_limit)
