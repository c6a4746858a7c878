"""Roles and the first admin: created by `flask --app app clientela init`."""
from __future__ import annotations

from flask import current_app

from app.extensions import db


def ensure_roles() -> None:
    """Create the Admin, Public and staff roles (FAB_ROLES) if missing, then sync permissions.

    FAB grants each new permission to the Admin role as it registers it, and stops at the
    first one when that role does not exist yet (an empty database after `fab
    create-permissions`). Syncing again once the roles exist registers every permission and
    gives Admin all of them; it is idempotent.
    """
    sm = current_app.appbuilder.sm
    for name in [sm.auth_role_admin, sm.auth_role_public, *current_app.config["FAB_ROLES"]]:
        if sm.find_role(name) is None:
            sm.add_role(name)
    db.session.commit()
    current_app.appbuilder.add_permissions(update_perms=True)
    db.session.commit()


def ensure_admin(username: str, password: str, email: str) -> bool:
    """Create the admin user unless one with that username exists; True if created."""
    sm = current_app.appbuilder.sm
    if sm.find_user(username=username):
        return False
    user = sm.add_user(username, "Admin", "Clientela", email, sm.find_role(sm.auth_role_admin), password)
    if not user:
        raise RuntimeError(f"could not create the admin user {username!r}")
    return True
