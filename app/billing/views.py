"""Staff views of invoices, quotes and payments."""
from flask_appbuilder import ModelView
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_babel import lazy_gettext as _l

from app.billing.models import Invoice, Payment, Quote
from app.security.roles import READ_WRITE


class InvoiceView(ModelView):
    datamodel = SQLAInterface(Invoice)
    class_permission_name = "Invoice"
    method_permission_name = READ_WRITE
    list_columns = ["number", "client", "issue_date", "due_date", "status", "total", "balance"]


class QuoteView(ModelView):
    datamodel = SQLAInterface(Quote)
    class_permission_name = "Quote"
    method_permission_name = READ_WRITE
    list_columns = ["number", "client", "issue_date", "valid_until", "status", "total"]


class PaymentView(ModelView):
    datamodel = SQLAInterface(Payment)
    class_permission_name = "Payment"
    method_permission_name = READ_WRITE
    list_columns = ["date", "invoice", "client", "amount", "method", "reference"]


def register(appbuilder) -> None:
    appbuilder.add_view(InvoiceView, "Invoices", label=_l("Invoices"), icon="fa-file-text-o")
    appbuilder.add_view(QuoteView, "Quotes", label=_l("Quotes"), icon="fa-file-o")
    appbuilder.add_view(PaymentView, "Payments", label=_l("Payments"), icon="fa-money")
