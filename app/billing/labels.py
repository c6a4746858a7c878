"""What staff and clients read for a document's status or a payment's method, in one place.

Italian agrees in gender: an invoice (la fattura) is "Inviata", a quote (il preventivo)
"Inviato". Where the English word is the same for both, the quote's carries the context
"quote", and an amount's ("Paid" beside a figure: "Pagato") the context "amount".
"""
from __future__ import annotations

from collections.abc import Mapping

from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext
from markupsafe import Markup

INVOICE_STATUS_LABELS = {
    "draft": _l("Draft"),
    "issued": _l("Issued"),
    "sent": _l("Sent"),
    "partial": _l("Partially paid"),
    "paid": _l("Paid"),
    "overdue": _l("Overdue"),
    "cancelled": _l("Cancelled"),
}
QUOTE_STATUS_LABELS = {
    "draft": _l("Draft"),
    "issued": lazy_pgettext("quote", "Issued"),
    "sent": lazy_pgettext("quote", "Sent"),
    "accepted": _l("Accepted"),
    "rejected": _l("Rejected"),
    "expired": _l("Expired"),
}
CREDIT_NOTE_STATUS_LABELS = {
    "draft": _l("Draft"),
    "issued": lazy_pgettext("credit note", "Issued"),
    "sent": lazy_pgettext("credit note", "Sent"),
}
# The client's wording on the portal (app.billing.states.portal_status).
PORTAL_STATUS_LABELS = {
    "sent": _l("To pay"),
    "partial": _l("Partly paid"),
    "paid": _l("Paid"),
    "overdue": _l("Overdue"),
    "cancelled": _l("Cancelled"),
    "accepted": _l("Accepted"),
    "rejected": _l("Rejected"),
    "expired": _l("Expired"),
    "awaiting": _l("Awaiting your answer"),
}
# Where a document's FatturaPA file stands with SdI (app.einvoice writes the state).
SDI_STATUS_LABELS = {
    "not_sent": _l("Not sent to SdI"),
    "sent": lazy_pgettext("sdi", "Sent"),
    "delivered": _l("Delivered"),
    "not_delivered": _l("Not delivered (available in the client's tax area)"),
    "rejected": _l("Rejected by SdI"),
    "accepted": _l("Accepted by the public administration"),
    "refused": _l("Refused by the public administration"),
    "expired": _l("No answer within the term"),
}
# Keyed by PaymentMethod's values (this module imports no model: app.billing.states reads it).
METHOD_LABELS = {
    "bank_transfer": _l("Bank transfer"),
    "cash": _l("Cash"),
    "stripe": _l("Card (Stripe)"),
    "other": _l("Other"),
}
# Bootstrap 3 label classes: the chip colours staff learn once.
STATUS_STYLES = {
    "draft": "default", "issued": "primary", "sent": "info", "partial": "warning", "paid": "success", "cancelled": "default",
    "overdue": "danger", "accepted": "success", "rejected": "danger", "expired": "default",
}
SDI_STATUS_STYLES = {
    "not_sent": "default", "sent": "info", "delivered": "success", "not_delivered": "warning",
    "rejected": "danger", "accepted": "success", "refused": "danger", "expired": "default",
}


def sdi_status_label(status: str, labels: Mapping[str, object] = SDI_STATUS_LABELS) -> Markup:
    """The SdI status as a chip; `labels`: the same labels already translated, where a page
    shows many (the 360 page)."""
    return Markup('<span class="label label-{} sdi-status-{}">{}</span>').format(
        SDI_STATUS_STYLES.get(status, "default"), status, labels.get(status, status)
    )
