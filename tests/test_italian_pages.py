"""Every admin and portal page, rendered in Italian, shows no English and no number in
scientific notation.

The pages come from `app.url_map`: every GET rule of an admin view or of the portal is
opened (a new page is checked without touching this file), its `<pk>` filled with a real row
of the view's own model, its other arguments from `ARGUMENTS`. A rule this test cannot open
as a page is in `EXCLUDED`, with the reason. The check reads what a person sees: the text of
the page and the attributes shown as text (title, placeholder, alt, aria-label, button values),
without scripts and styles.
"""
from __future__ import annotations

import datetime as dt
import re
from html.parser import HTMLParser

import pytest
from flask import Flask
from sqlalchemy import select

from app.billing import services as billing
from app.extensions import db
from app.mail import templating
from app.mail.models import OutboxEmail
from app.payments.models import CheckoutSession, StripeEvent
from tests.support import factories
from tests.support.portal import sign_in
from tests.support.tickets import ticket_of

# Words and phrases of FAB's and Clientela's English UI that an Italian page must not show. Whole
# words, case-sensitive: "Add" is English, "Addebito" is not.
ENGLISH = (
    "Add", "Edit", "Delete", "Search", "Refresh", "Actions", "Record", "Records", "Cancel", "List", "Show",
    "Save", "Back", "Select", "Filter", "Filters", "Submit", "Close", "Next", "Previous", "Page size",
    "None", "True", "False", "Remove all items", "User confirmation needed", "Added Row", "Changed Row",
    "Deleted Row", "No records found", "not set", "outbox only", "portal", "Invoice", "Invoices", "Quote",
    "Quotes", "Client", "Clients", "Payment", "Payments", "Status", "Draft", "Sent", "Paid", "Overdue",
    "Amount", "Total", "Date", "Description", "Quantity", "Price", "Discount", "Settings", "Outbox",
    "Subject", "Kind", "Language", "Created", "Updated", "Sign in", "Sign In", "Logout", "Profile", "Welcome",
    "Statement", "Balance", "Download", "Send", "Preview", "Contacts", "Notes", "Credit note", "Product",
    "Products", "Recurring", "Import", "Export", "Reset Password", "Detail", "Order by", "Group by",
    "Permissions", "Role", "Roles", "Users", "Security", "Error", "Failed", "Queued", "Reply", "Open",
    "Closed", "View", "Views", "Welcome", "Yes", "Loading", "Please", "the", "and", "is", "of", "to",
)
ENGLISH_PATTERN = re.compile(r"(?<![\w/.-])(" + "|".join(re.escape(word) for word in ENGLISH) + r")(?![\w/-])")
# A role's permissions as FAB_ROLES gives them (app/security/roles.py): regexes, not words.
ROLE_PATTERN = re.compile(r"'[^']*\$'")
SCIENTIFIC = re.compile(r"\d[Ee][+-]?\d")

# The rules of the admin and the portal that are not pages to read, and why.
EXCLUDED = {
    "UtilView.back": "a redirect to the previous page",
    "LocaleView.index": "switches the language and redirects",
    "AuthDBView.logout": "signs out",
    "health.healthz": "JSON for the load balancer",
    "SwaggerView.show": "the API's Swagger UI, for developers (English by design)",
    "portal.auth": "a one-time sign-in link (its page is checked by the portal test below)",
    "portal.logo": "an image",
    "TicketView.attachment": "a ticket's attached file",
    "tickets.portal_attachment": "a ticket's attached file",
    "UserStatsChartView.chart": "FAB's user statistics chart labels its series outside gettext "
                                "(app/fab/workarounds.py, item 5)",
}
FILES = ("pdf", "/xml", ".pdf")  # documents' PDF and FatturaPA files, not pages
# Arguments other than a view's own `<pk>`, by name: how to fill them from the world.
ARGUMENTS = {
    "client_id": lambda w: w["client"],
    "invoice_id": lambda w: w["invoice"],
    "quote_id": lambda w: w["quote"],
    "ticket_id": lambda w: w["ticket"],
    "kind": lambda w: "invoice",
    "group_by": lambda w: "0",
}
DOWNLOADS = ("application/pdf", "application/zip", "application/xml", "text/xml", "text/csv", "image/")


class VisibleText(HTMLParser):
    """The text a person reads on the page: text nodes and the attributes a browser shows."""

    SHOWN_ATTRIBUTES = ("title", "placeholder", "alt", "aria-label")
    HIDDEN = ("script", "style", "template")

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag, attrs):
        if tag in self.HIDDEN:
            self._hidden += 1
        attributes = dict(attrs)
        self.parts.extend(attributes[name] for name in self.SHOWN_ATTRIBUTES if attributes.get(name))
        if tag == "input" and attributes.get("type") in ("submit", "button") and attributes.get("value"):
            self.parts.append(attributes["value"])

    def handle_endtag(self, tag):
        if tag in self.HIDDEN and self._hidden:
            self._hidden -= 1

    def handle_data(self, data):
        if not self._hidden and data.strip():
            self.parts.append(data.strip())


def visible_text(html: str) -> str:
    parser = VisibleText()
    parser.feed(html)
    return "\n".join(parser.parts)


def raw_codes() -> set[str]:
    """The stored values of every status, method, kind and frequency, and the language codes: a
    page shows their labels ("Bonifico bancario"), never the code ("bank_transfer")."""
    from app.billing import models as billing_models
    from app.clients.models import ClientKind
    from app.mail.models import EmailKind, OutboxStatus
    from app.payments.models import CheckoutStatus, EventOutcome
    from app.recurring.models import Frequency
    from app.tickets.models import TicketStatus

    enums = (billing_models.InvoiceStatus, billing_models.QuoteStatus, billing_models.CreditNoteStatus,
             billing_models.SdiStatus, billing_models.PaymentMethod, ClientKind, EmailKind, OutboxStatus,
             CheckoutStatus, EventOutcome, Frequency, TicketStatus)
    return {member.value for enum in enums for member in enum} | {"it", "en"}


def problems_of(html: str, allowed: set[str], codes: frozenset[str] = frozenset()) -> list[str]:
    """English words, raw codes and scientific numbers on a page, each with the line it stands on."""
    found = []
    for line in visible_text(html).splitlines():
        if line in codes:
            found.append(f"raw code {line!r}")
        if line in allowed or set(line.strip("[]").split(", ")) <= allowed or not ROLE_PATTERN.sub("", line).strip("[], "):
            continue
        found += [f"{match.group(1)!r} in {line[:120]!r}" for match in ENGLISH_PATTERN.finditer(line)]
        found += [f"scientific number in {line[:120]!r}" for _ in SCIENTIFIC.finditer(line)]
    return found


def test_the_check_catches_english_and_scientific_numbers():
    page = ('<html><head><title>Clientela</title><script>var x = "Cancel";</script></head><body>'
            '<h2>List Invoice Line</h2><button>Cancel</button><a title="Remove all items">x</a>'
            '<td>None</td><td>IVA 1E+1%</td><p>Addebito di 1.355,25 €</p></body></html>')
    found = problems_of(page, set())
    assert [item.split(" in ")[0] for item in found] == [
        "'List'", "'Invoice'", "'Cancel'", "'Remove all items'", "'None'", "scientific number"]


# --- the world ------------------------------------------------------------------------------------

def _world(app: Flask) -> dict:
    from tests.support.einvoice import italian_company

    from app.products.services import create_product
    from app.recurring.services import create_schedule

    italian_company()
    client = factories.make_client("Ferramenta Bianchi S.r.l.", email="anna@bianchi.it")
    contact = client.contacts[0]
    invoice = factories.make_invoice(client, finalize=True, lines=[
        factories.line(description="Consulenza", quantity="10", unit_price="50.00", discount="10"),
        factories.line(description="Assistenza", quantity="2", unit_price="500.00", tax_rate="10"),
    ])
    factories.make_invoice(client)
    factories.make_paid_invoice(client)
    quote = factories.make_quote(client, finalize=True)
    factories.make_quote(client)
    note = billing.create_credit_note(invoice, "Reso")
    billing.finalize_credit_note(note)
    create_product({"name": "Manutenzione caldaia", "unit_price": "80.00"})
    create_schedule(client, {"start_date": dt.date.today() + dt.timedelta(days=30), "lines": [factories.line()]})
    ticket = ticket_of(contact)
    templating.ensure_global_templates()
    templating.save_client_template(client, "invoice", "Fattura {{ document_number }}", "Gentile cliente, la fattura.")
    db.session.add(OutboxEmail(idempotency_key="italian-1", kind="invoice", to_email="anna@bianchi.it",
                               subject="Fattura", body_text="Testo", body_html="<p>Testo</p>", status="failed",
                               error="SMTP down", client_id=client.id, invoice_id=invoice.id))
    db.session.add(StripeEvent(event_id="evt_italian", type="checkout.session.completed", client_id=client.id))
    db.session.add(CheckoutSession(stripe_id="cs_italian", invoice_id=invoice.id, client_id=client.id,
                                   amount_cents=12200, currency="EUR"))
    db.session.add(app.appbuilder.sm.group_model(name="contabilita", label="Contabilità"))
    db.session.commit()
    return {"client": client.id, "contact": contact.id, "invoice": invoice.id, "quote": quote.id,
            "ticket": ticket.id, "names": _data_in_english(app) | {client.name, contact.name, contact.email}}


def _data_in_english(app: Flask) -> set[str]:
    """Text that is data, not the UI: the English email templates (English on purpose), and the
    permission and view names FAB's security pages list ("can read on Invoice")."""
    from app.mail.models import EmailTemplate

    sm = app.appbuilder.sm
    english = {text for row in db.session.scalars(select(EmailTemplate).filter_by(language="en"))
               for text in (row.subject, *row.body.splitlines())}
    names = {row.name for model in (sm.viewmenu_model, sm.permission_model) for row in db.session.scalars(select(model))}
    pairs = {str(row) for row in db.session.scalars(select(sm.permissionview_model))}
    return english | names | pairs


def _pk_of(app: Flask, endpoint: str) -> int | None:
    """The id of a real row of the model the endpoint's view lists (the latest one)."""
    view_name = endpoint.split(".")[0]
    for view in app.appbuilder.baseviews:
        if view.endpoint == view_name and getattr(view, "datamodel", None) is not None:
            model = view.datamodel.obj
            query = select(model.id).order_by(model.id.desc()).limit(1)
            if hasattr(model, "language"):  # the Italian row of a per-language table
                query = query.where(model.language == "it")
            return db.session.scalar(query)
    return None


def _url(app: Flask, rule, world: dict) -> str:
    values = {}
    for name in rule.arguments:
        if name == "pk":
            values[name] = _pk_of(app, rule.endpoint)
            assert values[name] is not None, f"{rule.endpoint}: no row to show; add one to the world"
        else:
            assert name in ARGUMENTS, f"{rule.rule}: say in ARGUMENTS how to fill <{name}> (or exclude it)"
            values[name] = ARGUMENTS[name](world)
    with app.test_request_context():
        from flask import url_for

        return url_for(rule.endpoint, **values)


def _pages(app: Flask, portal: bool) -> list:
    rules = []
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint in EXCLUDED:
            continue
        if rule.rule.startswith(("/api/", "/static/", "/appbuilder/")) or rule.endpoint.endswith(
                (".delete", ".action", ".download")) or rule.rule.endswith(FILES):
            continue  # the REST API, files, and routes that change data on GET
        if rule.rule.startswith("/portal") == portal:
            rules.append(rule)
    return sorted(rules, key=lambda rule: rule.rule)


def _check(web, url: str, allowed: set[str], failures: dict) -> bool:
    response = web.get(url, follow_redirects=True)
    if response.status_code in (403, 404):
        return False  # a route FAB generates that the view does not offer (a read-only view's add)
    if response.status_code != 200:
        failures[url] = [f"status {response.status_code}"]
        return False
    if response.mimetype.startswith(DOWNLOADS) or not response.mimetype.startswith("text/html"):
        return False
    found = problems_of(response.get_data(as_text=True), allowed, CODES)
    if found:
        failures[url] = found
    return True


CODES = frozenset(raw_codes())


def _report(failures: dict) -> str:
    return "\n".join(f"{url}:\n  " + "\n  ".join(dict.fromkeys(found)) for url, found in failures.items())


def test_every_admin_page_reads_in_italian(app, web):
    world = _world(app)
    admin = factories.make_staff_user("Admin")
    factories.login(web, admin.username)
    web.get("/lang/it")
    failures: dict = {}
    checked = [url for rule in _pages(app, portal=False)
               if _check(web, url := _url(app, rule, world), world["names"], failures)]
    assert len(checked) > 60, checked  # lists, forms and pages of every view
    assert failures == {}, _report(failures)


def test_every_portal_page_reads_in_italian(app, web):
    world = _world(app)
    from app.clients.models import Contact
    from app.portal.tokens import issue_sign_in_link

    failures: dict = {}
    _check(web, "/portal/login", world["names"], failures)
    contact = db.session.get(Contact, world["contact"])
    link = issue_sign_in_link(contact)
    db.session.commit()
    _check(web, link.replace("http://clientela.test", ""), world["names"], failures)  # the page with the button
    sign_in(web, contact)
    checked = [url for rule in _pages(app, portal=True)
               if _check(web, url := _url(app, rule, world), world["names"], failures)]
    assert len(checked) >= 7, checked  # statement, invoices, quotes, their pages, tickets, login
    assert failures == {}, _report(failures)


def test_a_raw_code_is_caught_where_a_label_belongs():
    assert problems_of("<td>bank_transfer</td><td>Bonifico bancario</td>", set(), CODES) == ["raw code 'bank_transfer'"]


@pytest.mark.parametrize("word", ["Cancel", "Add", "Search", "Refresh", "Actions", "Edit", "Delete", "Record",
                                  "None", "True", "False"])
def test_each_word_the_issue_names_is_caught(word):
    assert problems_of(f"<p>{word}</p>", set()), word
