"""Flask-AppBuilder's security manager, with the signed-in user's permissions read once per request.

FAB answers every `has_access` (one per menu item, per button, per view) with its own
`EXISTS` query on the permission tables: an empty admin page ran 19 of them, most of its
time. Here the first check of a request loads every (permission, view) pair of the user's
roles in one query and keeps the set on that request; later checks look it up. The answer
to each check is unchanged: a pair is granted when one of the user's roles holds it.

The set lives in the request's WSGI environ, never on `g` or the app: the next request (or
a role edited in between) reads the permissions afresh. Outside a request (CLI, jobs) every
check asks the database as FAB does.
"""
from __future__ import annotations

from flask import has_request_context, request
from flask_appbuilder.security.sqla.manager import SecurityManager
from flask_appbuilder.security.sqla.models import assoc_permissionview_role
from sqlalchemy.orm import joinedload

from app.fab import security as fab_security
from app.fab.workarounds import SecurityApi

_CACHE_KEY = "clientela.permissions_by_roles"


class ClientelaSecurityManager(SecurityManager):
    # FAB's security views and login API, on the project's bases (app/fab/).
    userdbmodelview = fab_security.UserDBModelView
    rolemodelview = fab_security.RoleModelView
    groupmodelview = fab_security.UserGroupModelView
    permissionmodelview = fab_security.PermissionModelView
    viewmenumodelview = fab_security.ViewMenuModelView
    permissionviewmodelview = fab_security.PermissionViewModelView
    registerusermodelview = fab_security.RegisterUserModelView
    security_api = SecurityApi

    def get_user_by_id(self, pk):
        """The signed-in user with their roles and their groups' roles, in one statement
        (FAB loads the user, then each relationship with a query of its own, on every request)."""
        user, group = self.user_model, self.group_model
        return self.session.get(user, pk, options=[joinedload(user.roles),
                                                   joinedload(user.groups).joinedload(group.roles)])

    def exist_permission_on_roles(self, view_name: str, permission_name: str, role_ids: list[int]) -> bool:
        if not has_request_context():
            return super().exist_permission_on_roles(view_name, permission_name, role_ids)
        by_roles = request.environ.setdefault(_CACHE_KEY, {})
        key = tuple(sorted(role_ids))
        if key not in by_roles:
            by_roles[key] = self._permissions_of_roles(key)
        return (permission_name, view_name) in by_roles[key]

    def _permissions_of_roles(self, role_ids: tuple[int, ...]) -> frozenset[tuple[str, str]]:
        """Every (permission name, view name) held by any of the roles: one query."""
        rows = (
            self.session.query(self.permission_model.name, self.viewmenu_model.name)
            .select_from(self.permissionview_model)
            .join(assoc_permissionview_role,
                  assoc_permissionview_role.c.permission_view_id == self.permissionview_model.id)
            .join(self.permission_model, self.permission_model.id == self.permissionview_model.permission_id)
            .join(self.viewmenu_model, self.viewmenu_model.id == self.permissionview_model.view_menu_id)
            .filter(assoc_permissionview_role.c.role_id.in_(role_ids))
            .distinct()
            .all()
        )
        return frozenset((permission, view) for permission, view in rows)
