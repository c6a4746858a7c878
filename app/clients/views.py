"""Staff views of clients and contacts."""
from flask_appbuilder import ModelView
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_babel import lazy_gettext as _l

from app.clients.models import Client, Contact
from app.security.roles import READ_WRITE


class ContactView(ModelView):
    datamodel = SQLAInterface(Contact)
    class_permission_name = "Client"
    method_permission_name = READ_WRITE
    list_columns = ["name", "email", "phone", "is_primary"]


class ClientView(ModelView):
    datamodel = SQLAInterface(Client)
    class_permission_name = "Client"
    method_permission_name = READ_WRITE
    list_columns = ["name", "email", "city", "vat_number"]
    search_columns = ["name", "email", "vat_number", "city"]
    related_views = [ContactView]
    list_title = _l("Clients")


def register(appbuilder) -> None:
    appbuilder.add_view_no_menu(ContactView)
    appbuilder.add_view(ClientView, "Clients", label=_l("Clients"), icon="fa-address-book", category="")
