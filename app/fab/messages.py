"""Flask-AppBuilder 5.3.0's own strings that Clientela's pages show, so that `make messages`
keeps them in the project's catalog.

FAB ships an Italian catalog with gaps ("Cancel", "Add", "Show") and wrong entries ("E'
richiesta la conferma dell'utente", "No records found" as "Numero record trovati"). FAB's
BabelManager puts its own translations directory first in BABEL_TRANSLATION_DIRECTORIES and
the project's after it, and Flask-Babel merges them in that order: an entry of ours replaces
FAB's. The msgids below are FAB's, word for word; their Italian is in
app/translations/it/LC_MESSAGES/messages.po. The titles FAB makes up from a class name ("List
Invoice Line") go through the catalog too (app/fab/base.py). A FAB string that never goes
through gettext is corrected in app/fab/workarounds.py.

tests/test_italian_pages.py finds a FAB string the UI shows untranslated.
"""
from __future__ import annotations

from flask_babel import lazy_gettext as _l

FAB_MESSAGES = (
    # dialogs, list and show widgets (templates/appbuilder/general/)
    _l("User confirmation needed"), _l("Cancel"), _l("Add"), _l("Show"), _l("Edit"), _l("Delete"),
    _l("Add a new record"), _l("Show record"), _l("Edit record"), _l("Delete record"), _l("Record Count"),
    _l("No records found"), _l("You sure you want to delete this item?"), _l("Actions"), _l("Refresh"),
    _l("Search"), _l("Back"), _l("Save"), _l("Add Filter"), _l("Page size"), _l("Access is Denied"),
    _l("Is Active?"), _l("Invalid login. Please try again."), _l("Sign In"), _l("Enter your login and password below"),
    # titles FAB makes up from the class name of a view (baseviews.py: "List " + prettified name)
    _l("List Invoice Line"), _l("Show Invoice Line"), _l("Add Invoice Line"), _l("Edit Invoice Line"),
    _l("List Quote Line"), _l("Show Quote Line"), _l("Add Quote Line"), _l("Edit Quote Line"),
    _l("List Credit Note Line"), _l("Show Credit Note Line"), _l("Add Credit Note Line"),
    _l("Edit Credit Note Line"),
    _l("List Recurring Line"), _l("Show Recurring Line"), _l("Add Recurring Line"), _l("Edit Recurring Line"),
    # FAB's security views
    _l("Show Group"), _l("Add Group"), _l("Edit Group"),
    _l("The user group on the application, this will associate with a list of roles associated with the group"),
)
