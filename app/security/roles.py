"""Staff roles and the permissions each one has.

Views and APIs of one kind of object share a permission name (`class_permission_name`) and
map their methods onto two actions, read and write (`READ_WRITE`), so a role reads as a short
list. Admin has everything (FAB's built-in admin role). The lists are pinned by
tests/test_roles.py and documented in docs/roles.md.
"""
from __future__ import annotations

# FAB method → action. Used as `method_permission_name` on every ModelView and ModelRestApi.
READ_WRITE = {
    "list": "read",
    "show": "read",
    "get": "read",
    "get_list": "read",
    "info": "read",
    "download": "read",
    "pdf": "read",
    "summary": "read",
    "add": "write",
    "edit": "write",
    "delete": "write",
    "post": "write",
    "put": "write",
    "action": "write",
    "action_post": "write",
}

READ = "can_read"
WRITE = "can_write"


def _menu(*names: str) -> list[list[str]]:
    return [[name, "menu_access"] for name in names]


FAB_ROLES = {
    "Billing": [
        ["Client", READ], ["Client", WRITE],
        ["Invoice", READ], ["Invoice", WRITE],
        ["Quote", READ], ["Quote", WRITE],
        ["Payment", READ], ["Payment", WRITE],
        ["Activity", READ],
        ["Dashboard", READ],
        *_menu("Clients", "Invoices", "Quotes", "Payments"),
    ],
    "Support": [
        ["Client", READ],
        ["Activity", READ],
        ["Dashboard", READ],
        *_menu("Clients"),
    ],
}
