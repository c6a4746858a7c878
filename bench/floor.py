"""Bench-only pages: the cheapest page rendered through the admin's and the portal's layout
and sign-in checks, so the report separates the framework floor from the cost of the data.

Added to the bench's own app instance (and to `bench.wsgi:app`, what the bench runs under
gunicorn), never to Clientela's routes.
"""
from __future__ import annotations

from flask import Flask, render_template
from flask_appbuilder import BaseView, expose, has_access

ADMIN_FLOOR = "/bench-floor/admin"
PORTAL_FLOOR = "/portal/bench-floor"


class AdminFloorView(BaseView):
    route_base = "/bench-floor"
    class_permission_name = "Client"
    method_permission_name = {"admin": "read"}

    @expose("/admin")
    @has_access
    def admin(self):
        return self.render_template("appbuilder/base.html")


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

