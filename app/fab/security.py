"""FAB's own user, role and permission views on the project's ModelView base.

FAB builds these from classes its security manager names (`userdbmodelview`, `rolemodelview`,
…); ClientelaSecurityManager (app/security/cache.py) names these instead. Each keeps FAB's
class name, so its endpoints, routes and permission names are FAB's.
"""
from __future__ import annotations

from flask_appbuilder.security import views as fab

from app.fab.base import GuardedModelViewMixin


class UserDBModelView(GuardedModelViewMixin, fab.UserDBModelView):
    pass


class RoleModelView(GuardedModelViewMixin, fab.RoleModelView):
    pass


class UserGroupModelView(GuardedModelViewMixin, fab.UserGroupModelView):
    pass


class PermissionModelView(GuardedModelViewMixin, fab.PermissionModelView):
    pass


class ViewMenuModelView(GuardedModelViewMixin, fab.ViewMenuModelView):
    pass


class PermissionViewModelView(GuardedModelViewMixin, fab.PermissionViewModelView):
    pass


class RegisterUserModelView(GuardedModelViewMixin, fab.RegisterUserModelView):
    pass

