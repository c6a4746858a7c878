"""Staff roles and the permissions each one has.

Views and APIs of one kind of object share a permission name (`class_permission_name`) and
map their methods onto two actions, read and write (`READ_WRITE`), so a role reads as a short
list. Admin has everything (FAB's built-in admin role). The lists are pinned by
tests/security/test_roles.py and documented in docs/roles.md.
"""
from __future__ import annotations

import re

# FAB method → action. Used as `method_permission_name` on every ModelView and ModelRestApi;
# a view adds its own buttons (finalize, record payment …) to the same two actions.
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


def _exact(view: str, permission: str) -> list[str]:
    """FAB matches built-in role entries with `re.match` (a prefix match): anchor both ends,
    or "Client" would also grant a future "ClientEmailTemplate"."""
    return [re.escape(view) + "$", re.escape(permission) + "$"]


def _menu(*names: str) -> list[list[str]]:
    return [_exact(name, "menu_access") for name in names]


# Every staff member may see their own profile and change their own password.
_SELF_SERVICE = [
    _exact("UserDBModelView", "can_userinfo"),
    _exact("ResetMyPasswordView", "can_this_form_get"),
    _exact("ResetMyPasswordView", "can_this_form_post"),
    _exact("UserInfoEditView", "can_this_form_get"),
    _exact("UserInfoEditView", "can_this_form_post"),
]

# The REST API's OpenAPI description and its Swagger page, for staff who script against the API.
_API_DOCS = [_exact("OpenApi", "can_get"), _exact("SwaggerView", "can_show")]

FAB_ROLES = {
    "Billing": [
        _exact("Client", READ), _exact("Client", WRITE),
        _exact("Invoice", READ), _exact("Invoice", WRITE),
        _exact("Quote", READ), _exact("Quote", WRITE),
        _exact("Payment", READ),
        _exact("Product", READ), _exact("Product", WRITE),
        _exact("RecurringInvoice", READ), _exact("RecurringInvoice", WRITE),
        _exact("Outbox", READ), _exact("Outbox", WRITE),
        _exact("Dashboard", READ),
        *_menu("Clients", "Invoices", "Quotes", "Payments", "Products", "Recurring invoices", "Outbox", "SdI",
               "Online payments", "Stripe checkouts", "Stripe events"),
        *_API_DOCS,
        *_SELF_SERVICE,
    ],
    "Support": [
        _exact("Client", READ),
        _exact("Ticket", READ), _exact("Ticket", WRITE),
        _exact("Dashboard", READ),
        *_menu("Clients", "Tickets"),
        *_API_DOCS,
        *_SELF_SERVICE,
    ],
}
