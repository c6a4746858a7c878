"""Bench-only pages: the cheapest page rendered through the admin's and the portal's layout
and sign-in checks, so the report separates the framework floor from the cost of the data.
The admin floor is an empty FAB list of clients: the client list's own template, base
layout, menu, search form and list widget, with no row to read or draw.

Added to the bench's own app instance (and to `bench.wsgi:app`, what the bench runs under
gunicorn), never to Clientela's routes.
"""
from __future__ import annotations

from flask import Flask, render_template
from flask_appbuilder.models.sqla.filters import FilterEqual
from flask_appbuilder.models.sqla.interface import SQLAInterface

from app.clients.models import Client
from app.clients.views import ClientView
from app.fab.base import ClientelaModelView

ADMIN_FLOOR = "/bench-floor/list/"
PORTAL_FLOOR = "/portal/bench-floor"


class AdminFloorView(ClientelaModelView):
    """The client list's layout and columns over no client (no client has id 0)."""

    route_base = "/bench-floor"
    datamodel = SQLAInterface(Client)
    class_permission_name = "Client"
    method_permission_name = {"list": "read"}
    include_route_methods = {"list"}
    base_filters = [["id", FilterEqual, 0]]
    list_template = ClientView.list_template
    list_title, label_columns, search_columns = ClientView.list_title, ClientView.label_columns, ClientView.search_columns
    list_columns = ["name", "email", "city", "vat_number", "archived"]


def add_floor_pages(app: Flask) -> Flask:
    from app.portal.security import portal_login_required

    with app.app_context():
        app.appbuilder.add_view_no_menu(AdminFloorView)

    # Compiled once, as a template file is: render_template_string would compile on each request.
    page = app.jinja_env.from_string('{% extends "portal/base.html" %}{% block content %}<h1>-</h1>{% endblock %}')

    @portal_login_required
    def portal_floor():
        return render_template(page)

    # An endpoint named "portal.…" gets the portal blueprint's hooks and context, as its pages do.
    app.add_url_rule(PORTAL_FLOOR, endpoint="portal.bench_floor", view_func=portal_floor)
    return app


def create_app() -> Flask:
    from app import create_app as create_clientela

    return add_floor_pages(create_clientela())

