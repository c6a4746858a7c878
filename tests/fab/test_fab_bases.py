"""Every admin view and REST API stands on the project's FAB bases (app/fab/base.py), so what
they add holds everywhere: no file-download route, actions that answer like pages and reach
only rows their view lists, REST lists that refuse negative paging.
"""
from __future__ import annotations

from flask_appbuilder import BaseView, ModelView
from flask_appbuilder.api import BaseApi, ModelRestApi

from app.fab.base import (
    ClientelaBaseApi,
    ClientelaBaseView,
    ClientelaIndexView,
    ClientelaModelRestApi,
    ClientelaModelView,
    GuardedModelViewMixin,
    NonNegativePagingMixin,
)
from tests.support.factories import login, make_client, make_staff_user

PROJECT_BASES = (ClientelaModelView, ClientelaBaseView, ClientelaIndexView, ClientelaModelRestApi, ClientelaBaseApi)


def test_every_view_and_api_of_the_project_derives_from_a_project_base(app):
    # app.fab holds FAB's own security views, put on the guards below.
    ours = [view for view in app.appbuilder.baseviews
            if type(view).__module__.startswith("app.") and not type(view).__module__.startswith("app.fab.")]
    assert len(ours) > 15
    assert [type(view).__name__ for view in ours if not isinstance(view, PROJECT_BASES)] == []
    # The right base for the kind: a CRUD view on the ModelView base, a model API on the REST one.
    for view in ours:
        if isinstance(view, ModelView):
            assert isinstance(view, ClientelaModelView), type(view).__name__
        elif isinstance(view, ModelRestApi):
            assert isinstance(view, ClientelaModelRestApi), type(view).__name__
        elif isinstance(view, BaseApi):
            assert isinstance(view, ClientelaBaseApi), type(view).__name__
        else:
            assert isinstance(view, BaseView) and isinstance(view, (ClientelaBaseView, ClientelaIndexView))


def test_fabs_own_crud_views_and_apis_carry_the_same_guards(app):
    unguarded = [type(view).__name__ for view in app.appbuilder.baseviews
                 if isinstance(view, ModelView) and not isinstance(view, GuardedModelViewMixin)]
    assert unguarded == []
    unpaged = [type(view).__name__ for view in app.appbuilder.baseviews
               if isinstance(view, ModelRestApi) and not isinstance(view, NonNegativePagingMixin)]
    assert unpaged == []


def test_no_view_offers_fabs_file_download_route(app, web):
    # FAB's own route is /<view>/download/<string:filename>; our download endpoints take ids or none.
    assert [rule.rule for rule in app.url_map.iter_rules() if rule.rule.endswith("/download/<string:filename>")] == []
    login(web, make_staff_user("Admin").username)
    assert web.get("/clientview/download/secret.txt").status_code == 404
    assert web.get("/users/download/secret.txt").status_code == 404


def test_an_action_on_a_row_the_view_does_not_list_is_not_found(web):
    client = make_client()
    login(web, make_staff_user("Billing").username)
    assert web.post(f"/clientview/action/archive/{client.id + 1000}").status_code == 404
    assert web.post("/clientview/action_post", data={"action": "archive", "rowid": [str(client.id), "0"]}
                    ).status_code == 404
    assert web.post(f"/clientview/action/archive/{client.id}").status_code == 302
