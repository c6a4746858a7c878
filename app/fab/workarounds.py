"""Corrections Flask-AppBuilder 5.3.0 still needs, each with the upstream issue it answers.

Drop an item when the FAB version pinned in requirements.txt fixes it (its test in
tests/test_authz_matrix.py or tests/test_bad_input.py keeps passing without it).

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
5. No applicable action shows every action (FAB 5.3.0; no upstream issue found):
   `BaseCRUDView._get_show_widget` takes `actions = actions or self.actions`, so a show page
   whose document allows none of the view's actions (a partly paid invoice) rendered them all,
   "Finalize" included. `ShownActions` below is a selection that stays one when empty
   (app/billing/views.py passes the actions app/billing/states.py allows).
"""
from __future__ import annotations

from flask import request
from flask_appbuilder.hooks import before_request
from flask_appbuilder.security.api import SecurityApi as FabSecurityApi


class ShownActions(dict):
    """Item 5: the actions a show page offers, a selection even when it is empty."""

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
