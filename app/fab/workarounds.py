"""Corrections Flask-AppBuilder 5.3.0 still needs, each with the upstream issue it answers.

Drop an item when the FAB version pinned in requirements.txt fixes it (its test in
tests/security/test_authz_matrix.py or tests/security/test_bad_input.py keeps passing without it).

1. Unknown action names (FAB 5.3.0, dpgaspar/Flask-AppBuilder#2407): `ModelView.action` and
   `action_post` ask `get_action_permission_name(name)`, which reads
   `self.actions.get(name).func`: an unknown name is an AttributeError, a 500. The hook
   `GuardedModelViewMixin._actions_answer_like_pages` (app/fab/base.py) answers 404 first.
2. Action rows without base filters (FAB 5.3.0, dpgaspar/Flask-AppBuilder#251, open): an
   action's rows are fetched with `datamodel.get(pk)`, never `base_filters`; the same hook
   refuses a row the view does not list.
3. Negative paging in REST lists (FAB 5.3.0; dpgaspar/Flask-AppBuilder#1469 reports list
   arguments used unchecked, PR #1078 fixed only the `max_page_size = -1` case): a negative
   `page` or `page_size` becomes a negative OFFSET/LIMIT. `NonNegativePagingMixin` (base.py).
4. The login API without `provider` (FAB 5.3.0): `SecurityApi.login` validates the payload
   with `LoginPost`, whose `provider` field is optional (PR #1712 added its validation), then
   reads `login_payload["provider"]`: a KeyError, a 500. `SecurityApi` below asks for it.
5. English text outside gettext (FAB 5.3.0, issue 14 of Clientela): the confirmation dialog
   every admin page includes (`appbuilder/general/confirm.html`) writes its button as the
   literal "Cancel". `TranslatedLiterals` hands Jinja that template with the literal wrapped
   in `_()`, so the catalog translates it (app/fab/messages.py); the template is not copied.
   FAB's select2 (4.0.13) carries its English messages ("Remove all items") in JavaScript:
   templates/clientela_base.html gives it the Italian ones. FAB's user statistics chart
   labels its series with literals ("Failed Login Count"): left English, a developer's page.
6. No applicable action shows every action (FAB 5.3.0; no upstream issue found):
   `BaseCRUDView._get_show_widget` takes `actions = actions or self.actions`, so a show page
   whose document allows none of the view's actions (a partly paid invoice) rendered them all,
   "Finalize" included. `ShownActions` below is a selection that stays one when empty
   (app/billing/views.py passes the actions app/billing/states.py allows).
7. Row buttons made per row (FAB 5.3.0; no upstream issue found): the list widget's
   `lib.btn_crud` translates seven labels and builds three links for every row, about 70 % of
   what a row costs to draw. `ClientelaListWidget` below (every ClientelaModelView's) extends
   FAB's widget template and overrides its one block of rows (templates/admin/widgets/list.html):
   the same markup, the labels and links made once per page, each row putting in its key
   (tests/fab/test_admin_italian.py compares the buttons). On a FAB upgrade, diff that block
   against FAB's `widgets/list.html` and `lib.btn_crud`.
"""
from __future__ import annotations

from typing import ClassVar

from flask import Flask, request
from flask_appbuilder.hooks import before_request
from flask_appbuilder.security.api import SecurityApi as FabSecurityApi
from flask_appbuilder.widgets import ListWidget
from jinja2 import BaseLoader


class TranslatedLiterals(BaseLoader):
    """Item 5: FAB templates whose English literals go through gettext, and nothing else changed.
    A replacement that no longer finds its text (a newer FAB) leaves the template as FAB wrote it;
    tests/test_italian_pages.py then fails on the English word."""

    REPLACEMENTS: ClassVar[dict[str, tuple[tuple[str, str], ...]]] = {
        "appbuilder/general/confirm.html": ((">Cancel</button>", ">{{ _('Cancel') }}</button>"),),
    }

    def __init__(self, loader: BaseLoader):
        self.loader = loader

    def get_source(self, environment, template):
        source, filename, uptodate = self.loader.get_source(environment, template)
        for literal, translated in self.REPLACEMENTS.get(template, ()):
            source = source.replace(literal, translated)
        return source, filename, uptodate

    def list_templates(self):
        return self.loader.list_templates()


def init_app(app: Flask) -> None:
    app.jinja_env.loader = TranslatedLiterals(app.jinja_env.loader)


class ShownActions(dict):
    """Item 6: the actions a show page offers, a selection even when it is empty."""

    def __bool__(self) -> bool:
        return True


class SecurityApi(FabSecurityApi):
    """FAB's login and refresh API (same class name, so the same endpoints), with item 4."""

    @before_request(only=["login"])
    def _login_needs_a_provider(self):
        body = request.get_json(silent=True)
        if isinstance(body, dict) and "provider" not in body:
            return self.response_400(message={"provider": ["Missing data for required field."]})
        return None


class ClientelaListWidget(ListWidget):
    """Item 7: FAB's list widget, the row buttons' labels and links made once per page instead
    of once per row (templates/admin/widgets/list.html)."""

    template = "admin/widgets/list.html"
