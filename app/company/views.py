"""The company settings page (Admin only)."""
from flask_appbuilder import ModelView
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_babel import lazy_gettext as _l

from app.company.models import CompanySettings
from app.security.roles import READ_WRITE


class CompanySettingsView(ModelView):
    datamodel = SQLAInterface(CompanySettings)
    class_permission_name = "CompanySettings"
    method_permission_name = READ_WRITE
    base_permissions = ["can_read", "can_write"]


def register(appbuilder) -> None:
    appbuilder.add_view(CompanySettingsView, "Company settings", label=_l("Company settings"),
                        icon="fa-building", category="Settings", category_label=_l("Settings"))
