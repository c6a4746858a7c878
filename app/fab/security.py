"""FAB's own user, role and permission views on the project's ModelView base.

FAB builds these from classes its security manager names (`userdbmodelview`, `rolemodelview`,
…); ClientelaSecurityManager (app/security/cache.py) names these instead. Each keeps FAB's
class name, so its endpoints, routes and permission names are FAB's.
"""
from __future__ import annotations

from typing import ClassVar

from flask_appbuilder.security import views as fab
from flask_babel import lazy_gettext as _l

from app.fab.base import GuardedModelViewMixin


class UserDBModelView(GuardedModelViewMixin, fab.UserDBModelView):
    pass


class RoleModelView(GuardedModelViewMixin, fab.RoleModelView):
    pass


class UserGroupModelView(GuardedModelViewMixin, fab.UserGroupModelView):
    # FAB 5.3.0 labels these columns with their prettified names, outside gettext.
    label_columns: ClassVar[dict] = {"name": _l("Name"), "label": _l("Label"), "description": _l("Description"),
                     "users": _l("Users"), "roles": _l("Roles")}


class PermissionModelView(GuardedModelViewMixin, fab.PermissionModelView):
    pass


class ViewMenuModelView(GuardedModelViewMixin, fab.ViewMenuModelView):
    pass


class PermissionViewModelView(GuardedModelViewMixin, fab.PermissionViewModelView):
    # FAB 5.3.0 names its "role" search filter with the prettified column name.
    label_columns: ClassVar[dict] = {**fab.PermissionViewModelView.label_columns, "role": _l("Role")}


class RegisterUserModelView(GuardedModelViewMixin, fab.RegisterUserModelView):
    pass

