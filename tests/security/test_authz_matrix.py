"""Every rule in app.url_map × every actor: who may call it, and what everyone else meets.

Actors: anonymous, a staff user of each FAB role (Admin, Billing, Support), a signed-in user
whose only role is Public (no permissions), and the portal contacts of two clients, A and B.

What a refused actor meets, by kind of route:
- admin pages (FAB views): anonymous visitors and portal contacts are sent to FAB's sign-in
  page (302 to /login/?next=…); a signed-in staff user without the permission gets 403.
- REST API (/api/v1): no JWT (anonymous, a contact's portal cookie) is 401; a JWT without the
  permission is 403.
- portal: anonymous visitors and staff (staff sessions are not portal sessions) are sent to
  /portal/login; another client's object is 404, as if it did not exist.
- routes that do not exist for anyone (actions on views without actions, the CRUD forms of
  read-only views) answer 404 or 403 to everyone, Admin included; FAB's file download route
  is not registered at all (tests/fab/test_fab_bases.py).
Every refused call changes nothing: a snapshot of every table is compared before and after.
Allowed calls answer 2xx, or a redirect that is not a sign-in page.

The meta-test at the bottom fails when a rule in app.url_map is not in the matrix.
"""
from __future__ import annotations

import base64
import datetime as dt
import io
from dataclasses import dataclass, field
from typing import Callable

import pytest
from flask import Flask
from flask_appbuilder import Model
from flask_jwt_extended import create_access_token, create_refresh_token
from sqlalchemy import select
from werkzeug.security import generate_password_hash

from tests.support import factories
from app.billing import services as billing
from app.billing.models import CreditNote, Invoice, Payment, Quote
from app.clients.models import Client, Contact
from app.extensions import db
from app.mail import templating
from app.mail.models import ClientEmailTemplate, EmailTemplate, OutboxEmail
from app.payments.models import CheckoutSession, StripeEvent
from app.portal.tokens import issue_sign_in_link
from app.tickets.models import Ticket
from tests.support.database import KEEP_TABLES
from tests.support.admin import client_form
from tests.support.portal import link_token, sign_in
from tests.support.tickets import PDF, attachment_path, ticket_of

STAFF_ROLES = ("Admin", "Billing", "Support", "Public")
CONTACTS = ("A", "B")
ACTORS = ("anonymous", *STAFF_ROLES, *CONTACTS)
PASSWORD = "Password-123!"
# A cheap hash: these users never sign in with their password except once, for the login API.
PASSWORD_HASH = generate_password_hash(PASSWORD, "pbkdf2:sha256:1000")

# One new client, importable again and again (a second import updates it).
IMPORT_CSV = f"name,email,vat_number\nImportato S.r.l.,importato@example.it,{factories.VALID_PARTITE_IVA[3]}\n".encode()

ADMIN = frozenset({"Admin"})
STAFF = frozenset({"Admin", "Billing", "Support"})
CLIENT_READ = STAFF  # Client can_read: Billing and Support
CLIENT_WRITE = frozenset({"Admin", "Billing"})
BILLING = frozenset({"Admin", "Billing"})  # invoices, quotes, payments, outbox
TICKETS = frozenset({"Admin", "Support"})
SIGNED_IN = frozenset(STAFF_ROLES)  # any signed-in user, Public included
NOBODY = frozenset()
EVERYONE = frozenset(ACTORS)


# --- the world: built once for the module, rows kept until its end -----------------------------

@pytest.fixture(autouse=True)
def _app_context():
    """Replaces conftest's: no app context around the test, so each request gets its own (as on a
    real server: a fresh `g`, so no signed-in user carries over from one actor's request to the
    next), and no cleanup after each test: the module's world is built once."""
    yield


@pytest.fixture(scope="module")
def world_ids(app):
    with app.app_context():
        ids = _build_world(app)
        db.session.commit()
    yield ids
    with app.app_context():
        db.session.remove()
        with db.engine.begin() as connection:
            for table in reversed(Model.metadata.sorted_tables):
                if table.name not in KEEP_TABLES:
                    connection.execute(table.delete())


def _build_world(app: Flask) -> dict:
    from tests.support.einvoice import italian_company

    italian_company()  # e-invoicing on: every finalized document has a FatturaPA file to hand out
    sm = app.appbuilder.sm
    ids: dict = {"users": {}, "clients": {}, "contacts": {}, "invoices": {}, "drafts": {}, "quotes": {},
                 "quote_drafts": {}, "tickets": {}}
    for role in (*STAFF_ROLES, "Victim"):
        username = f"matrix-{role.lower()}"
        user = sm.add_user(username, role, "Test", f"{username}@clientela.test",
                           sm.find_role("Billing" if role == "Victim" else role), hashed_password=PASSWORD_HASH)
        assert user, role
        ids["users"][role] = user.id
    for owner, email in (("A", "anna@alfa.it"), ("B", "bruno@beta.it")):
        client = factories.make_client(f"Cliente {owner} S.r.l.", email=email)
        ids["clients"][owner] = client.id
        ids["contacts"][owner] = client.contacts[0].id
        ids["invoices"][owner] = factories.make_invoice(client, finalize=True).id
        ids["drafts"][owner] = factories.make_invoice(client).id
        ids["quotes"][owner] = factories.make_quote(client, finalize=True).id
        ids["quote_drafts"][owner] = factories.make_quote(client).id
        ids["tickets"][owner] = ticket_of(client.contacts[0]).id
    client_a = db.session.get(Client, ids["clients"]["A"])
    paid = factories.make_paid_invoice(client_a)
    ids["payment"] = paid.payments[0].id
    templating.ensure_global_templates()
    db.session.flush()
    ids["email_template"] = db.session.scalars(select(EmailTemplate.id).order_by(EmailTemplate.id)).first()
    templating.save_client_template(client_a, "invoice", "Fattura {{ document_number }}", "Gentile cliente, la fattura.")
    db.session.flush()
    ids["client_template"] = db.session.scalar(select(ClientEmailTemplate.id))
    outbox = OutboxEmail(idempotency_key="matrix-1", kind="invoice", to_email="anna@alfa.it", subject="Fattura",
                         body_text="Testo", body_html="<p>Testo</p>", status="failed", error="SMTP down",
                         client_id=client_a.id)
    event = StripeEvent(event_id="evt_matrix", type="checkout.session.completed", client_id=client_a.id)
    checkout = CheckoutSession(stripe_id="cs_matrix", invoice_id=ids["invoices"]["A"], client_id=client_a.id,
                               amount_cents=12200, currency="EUR")
    db.session.add_all([outbox, event, checkout])
    db.session.flush()
    ids.update(outbox=outbox.id, stripe_event=event.id, checkout=checkout.id)
    ids["group"] = _add(sm.group_model(name="matrix-group", label="Matrix"))
    from app.company.services import get_company
    from app.einvoice.services import current_file

    ids["company"] = get_company().id
    invoice_a = db.session.get(Invoice, ids["invoices"]["A"])
    note = billing.create_credit_note(invoice_a, "Reso")
    billing.finalize_credit_note(note)
    db.session.flush()
    ids["einvoice_credit_note"] = note.id
    # A draft credit note of client A, on an invoice with everything left to credit.
    ids["credit_note_draft"] = billing.create_credit_note(factories.make_invoice(client_a, finalize=True), "Reso").id
    ids["einvoice_file"] = current_file(invoice_a).id
    ids["einvoice_file_name"] = current_file(invoice_a).file_name
    ids["product"] = _product().id
    ids["schedule"] = _schedule(client_a).id
    return ids


def _product():
    from app.products.services import create_product

    return create_product({"name": f"Prodotto {next(factories._counter)}", "unit_price": "10.00"})


def _schedule(client: Client):
    from app.recurring.services import create_schedule

    return create_schedule(client, {"start_date": dt.date.today() + dt.timedelta(days=30),
                                    "lines": [factories.line()]})


@dataclass
class World:
    """The module's world loaded into the current session, plus builders of fresh rows for the
    allowed calls that change something (so every actor finds the same world)."""

    ids: dict
    app: Flask

    def client(self, owner: str = "A") -> Client:
        return db.session.get(Client, self.ids["clients"][owner])

    def contact(self, owner: str = "A") -> Contact:
        return db.session.get(Contact, self.ids["contacts"][owner])

    def fresh_client(self) -> Client:
        return factories.make_client()

    def fresh_draft(self, kind: str = "invoice") -> Invoice | Quote:
        build = factories.make_invoice if kind == "invoice" else factories.make_quote
        return build(self.client("A"))

    def fresh_sent(self, kind: str = "invoice", owner: str = "A") -> Invoice | Quote:
        build = factories.make_invoice if kind == "invoice" else factories.make_quote
        return build(self.client(owner), finalize=True)

    def fresh_user(self):
        sm = self.app.appbuilder.sm
        name = f"fresh{next(factories._counter)}"
        return sm.add_user(name, "Fresh", "User", f"{name}@clientela.test", sm.find_role("Billing"),
                           hashed_password=PASSWORD_HASH)


# --- what one cell sends ---------------------------------------------------------------------------

@dataclass
class Call:
    path: str
    data: dict | bytes | None = None
    json: dict | None = None
    content_type: str | None = None


Build = Callable[[World, str, bool], Call]  # (world, actor or owner, allowed) → the request


@dataclass
class Case:
    method: str
    build: Build
    allowed: frozenset
    kind: str  # "admin", "api", "portal", "public", "absent"
    ok: tuple = (200,)
    scoped: bool = True  # portal: the route names one client's object
    absent_status: tuple = (404,)
    config: dict = field(default_factory=dict)  # app settings the cell runs under


def _static(path: str, data: dict | None = None, json: dict | None = None) -> Build:
    return lambda w, actor, allowed: Call(path, data, json)


def _with(path: Callable[[World, str, bool], str], data=None, json=None) -> Build:
    def build(w, actor, allowed):
        return Call(path(w, actor, allowed), data(w, actor, allowed) if callable(data) else data,
                    json(w, actor, allowed) if callable(json) else json)
    return build


def admin(method, build, allowed, ok=(200,)) -> Case:
    return Case(method, build, allowed, "admin", ok)


def api(method, build, allowed, ok=(200,)) -> Case:
    return Case(method, build, allowed, "api", ok)


def absent(method, build, status=(404,)) -> Case:
    """A route nobody may use: FAB generates it, Clientela does not offer it."""
    return Case(method, build, NOBODY, "absent", absent_status=status)


REDIRECT = (302, 303)
PAGE_OR_REDIRECT = (200, 302, 303)
ANY_ID = lambda w, a, allowed: "0"  # noqa: E731


# --- generic FAB CRUD views --------------------------------------------------------------------------

def crud(route: str, endpoint: str, *, read: frozenset, write: frozenset | None,
         existing: Callable[[World], int], fresh: Callable[[World], int] | None = None,
         form: Callable[[World], dict] | None = None, action: str | None = None,
         list_ok=(200,), write_ok=PAGE_OR_REDIRECT, show: bool = True) -> dict:
    """FAB's generated routes of one ModelView. `write=None`: a read-only view (FAB refuses its
    forms to everyone, Admin included). `existing`: a row a refused actor would change;
    `fresh`: a row made for each allowed writer (so the next one finds the world unchanged)."""
    fresh = fresh or existing
    form = form or (lambda w: {})

    def target(w, actor, allowed):
        return str(fresh(w) if allowed else existing(w))

    cases = {
        (f"{endpoint}.list", "GET"): admin("GET", _static(f"{route}/list/"), read, list_ok),
        (f"{endpoint}.show", "GET"): admin("GET", _with(lambda w, a, al: f"{route}/show/{existing(w)}"), read)
        if show else absent("GET", _with(lambda w, a, al: f"{route}/show/{existing(w)}"), status=(302, 403)),
    }
    if write is None:
        for name, path in (("add", lambda w, a, al: f"{route}/add"),
                           ("edit", lambda w, a, al: f"{route}/edit/{existing(w)}"),
                           ("delete", lambda w, a, al: f"{route}/delete/{existing(w)}")):
            for method in ("GET", "POST"):
                cases[(f"{endpoint}.{name}", method)] = absent(method, _with(path, data={}), status=(302, 403))
    else:
        cases.update({
            (f"{endpoint}.add", "GET"): admin("GET", _static(f"{route}/add"), write, PAGE_OR_REDIRECT),
            (f"{endpoint}.add", "POST"): admin("POST", _with(lambda w, a, al: f"{route}/add",
                                                             data=lambda w, a, al: form(w)), write, write_ok),
            (f"{endpoint}.edit", "GET"): admin("GET", _with(lambda w, a, al: f"{route}/edit/{existing(w)}"), write,
                                               PAGE_OR_REDIRECT),
            (f"{endpoint}.edit", "POST"): admin("POST", _with(lambda w, a, al: f"{route}/edit/{target(w, a, al)}",
                                                              data=lambda w, a, al: form(w)), write,
                                                write_ok),
            (f"{endpoint}.delete", "GET"): admin("GET", _with(lambda w, a, al: f"{route}/delete/{target(w, a, al)}"),
                                                 write, tuple(set(REDIRECT) | set(write_ok) - {200})),
            (f"{endpoint}.delete", "POST"): admin("POST", _with(lambda w, a, al: f"{route}/delete/{target(w, a, al)}",
                                                                data={}), write, tuple(set(REDIRECT) | set(write_ok) - {200})),
        })
    for method in ("GET", "POST"):
        if action:
            cases[(f"{endpoint}.action", method)] = admin(
                method, _with(lambda w, a, al: f"{route}/action/{action}/{target(w, a, al)}", data={}), write, REDIRECT)
        else:
            cases[(f"{endpoint}.action", method)] = absent(method, _with(
                lambda w, a, al: f"{route}/action/anything/{existing(w)}", data={}))
    if action:
        cases[(f"{endpoint}.action_post", "POST")] = admin("POST", _with(
            lambda w, a, al: f"{route}/action_post",
            data=lambda w, a, al: {"action": action, "rowid": [target(w, a, al)]}), write, REDIRECT)
    else:
        cases[(f"{endpoint}.action_post", "POST")] = absent(
            "POST", _static(f"{route}/action_post", data={"action": "anything", "rowid": ["1"]}))
    return cases


def _ids(key: str, owner: str | None = None) -> Callable[[World], int]:
    return lambda w: w.ids[key][owner] if owner else w.ids[key]


def _document_form(kind: str) -> Callable[[World], dict]:
    def form(w):
        today = dt.date.today().isoformat()
        data = {"issue_date": today, "notes": "Modificata", "terms": "",
                "lines-0-description": "Nuova riga", "lines-0-quantity": "2", "lines-0-unit_price": "50",
                "lines-0-discount": "0", "lines-0-tax_rate": "22"}
        data["due_date" if kind == "invoice" else "valid_until"] = today
        return data
    return form


def _security_view(route: str, endpoint: str, existing: Callable[[World], int],
                   fresh: Callable[[World], int] | None = None, read_only: bool = False) -> dict:
    """FAB's user and role management: only Admin passes. For rows the suite keeps between
    tests (roles), Admin's writes aim at a row that does not exist (404). FAB shows
    permissions and view names as a list only: their other forms are refused to Admin too."""
    return crud(route, endpoint, read=ADMIN, write=None if read_only else ADMIN, existing=existing,
                fresh=fresh or (lambda w: 0), form=lambda w: {}, show=not read_only,
                write_ok=PAGE_OR_REDIRECT if fresh else (*PAGE_OR_REDIRECT, 404))


def _role_id(name: str) -> Callable[[World], int]:
    return lambda w: w.app.appbuilder.sm.find_role(name).id


def _first_id(model_attr: str) -> Callable[[World], int]:
    def first(w):
        model = getattr(w.app.appbuilder.sm, model_attr)
        return db.session.scalars(select(model.id).order_by(model.id)).first()
    return first


MATRIX: dict[tuple[str, str], Case] = {}

MATRIX.update(crud("/clientview", "ClientView", read=CLIENT_READ, write=CLIENT_WRITE,
                   existing=_ids("clients", "A"), fresh=lambda w: w.fresh_client().id,
                   form=lambda w: client_form(name="Scritto S.r.l."), action="archive"))
# A client's page is its 360 page: FAB's show route sends readers there.
MATRIX[("ClientView.show", "GET")] = admin(
    "GET", _with(lambda w, a, al: f"/clientview/show/{w.ids['clients']['A']}"), CLIENT_READ, REDIRECT)


def _contact_to_remove(w: World, allowed: bool) -> str:
    """Client A's contact for a refused actor; for an allowed one, the second contact of a fresh client."""
    if not allowed:
        return f"/clients/{w.ids['clients']['A']}/contacts/{w.ids['contacts']['A']}/remove"
    client = w.fresh_client()
    client.contacts.append(Contact(name="Secondo", email=f"secondo{next(factories._counter)}@example.it"))
    db.session.flush()
    return f"/clients/{client.id}/contacts/{client.contacts[-1].id}/remove"


MATRIX.update(crud("/invoiceview", "InvoiceView", read=BILLING, write=BILLING,
                   existing=_ids("drafts", "A"), fresh=lambda w: w.fresh_draft("invoice").id,
                   form=_document_form("invoice"), action="finalize"))
MATRIX.update(crud("/quoteview", "QuoteView", read=BILLING, write=BILLING,
                   existing=_ids("quote_drafts", "A"),
                   fresh=lambda w: w.fresh_draft("quote").id, form=_document_form("quote"), action="finalize"))
MATRIX.update(crud("/invoicelineview", "InvoiceLineView", read=BILLING, write=None,
                   existing=lambda w: db.session.get(Invoice, w.ids["drafts"]["A"]).lines[0].id))
MATRIX.update(crud("/quotelineview", "QuoteLineView", read=BILLING, write=None,
                   existing=lambda w: db.session.get(Quote, w.ids["quotes"]["A"]).lines[0].id))
MATRIX.update(crud("/paymentview", "PaymentView", read=BILLING, write=None, existing=_ids("payment")))
def _without_routes_it_lacks(cases: dict) -> dict:
    """Products and schedules are archived or ended, never deleted (and no view serves files)."""
    return {key: case for key, case in cases.items() if key[0].rsplit(".", 1)[1] not in ("delete", "download")}


MATRIX.update(_without_routes_it_lacks(crud(
    "/productview", "ProductView", read=BILLING, write=BILLING, existing=_ids("product"),
    fresh=lambda w: _product().id, action="archive",
    form=lambda w: {"name": "Formazione", "unit_price": "80", "tax_rate": "22", "vat_nature": "", "unit": "ora",
                    "description": ""})))
MATRIX.update(_without_routes_it_lacks(crud(
    "/recurringinvoiceview", "RecurringInvoiceView", read=BILLING, write=BILLING, existing=_ids("schedule"),
    fresh=lambda w: _schedule(w.client("A")).id, action="pause",
    form=lambda w: {"frequency": "monthly", "start_date": dt.date.today().isoformat(), "end_date": "", "notes": "",
                    "lines-0-description": "Canone", "lines-0-quantity": "1", "lines-0-unit_price": "90",
                    "lines-0-discount": "0", "lines-0-tax_rate": "22", "lines-0-product_id": ""})))
MATRIX.update(crud("/recurringlineview", "RecurringLineView", read=BILLING, write=None,
                   existing=lambda w: _schedule_lines(w)[0].id))


def _schedule_lines(w: World):
    from app.recurring.models import RecurringInvoice

    return db.session.get(RecurringInvoice, w.ids["schedule"]).lines


MATRIX.update(crud("/stripeeventview", "StripeEventView", read=BILLING, write=None, existing=_ids("stripe_event")))
MATRIX.update(crud("/checkoutsessionview", "CheckoutSessionView", read=BILLING, write=None,
                   existing=_ids("checkout")))
MATRIX.update(crud("/emailtemplateview", "EmailTemplateView", read=ADMIN, write=ADMIN,
                   existing=_ids("email_template"),
                   fresh=lambda w: _add(EmailTemplate(kind="invoice", language=f"x{next(factories._counter)}",
                                                      subject="S", body="B")),
                   form=lambda w: {"subject": "Oggetto {{ document_number }}", "body": "Nuovo testo"}))
MATRIX.update(crud("/clientemailtemplateview", "ClientEmailTemplateView", read=CLIENT_READ, write=CLIENT_WRITE,
                   existing=_ids("client_template"),
                   fresh=lambda w: _add(ClientEmailTemplate(client_id=w.fresh_client().id, kind="invoice",
                                                            subject="S", body="B")),
                   form=lambda w: {"client": str(w.ids["clients"]["B"]), "kind": "quote", "subject": "Preventivo",
                                   "body": "Testo"}))
MATRIX.update(crud("/companysettingsview", "CompanySettingsView", read=ADMIN, write=ADMIN,
                   existing=_ids("company"), list_ok=REDIRECT,
                   form=lambda w: {"legal_name": "Rinominata S.r.l.", "currency": "EUR", "default_tax_rate": "22",
                                   "payment_terms_days": "30", "quote_validity_days": "30",
                                   "invoice_number_format": "{year}/{seq:04d}",
                                   "quote_number_format": "P{year}/{seq:04d}", "locale": "it", "country": "IT"}))
# Outbox: read and resend only; FAB's forms are not offered (its permission map has no add/edit/delete).
MATRIX.update(crud("/outboxview", "OutboxView", read=BILLING, write=None, existing=_ids("outbox")))
MATRIX.update(_security_view("/users", "UserDBModelView", existing=lambda w: w.ids["users"]["Victim"],
                             fresh=lambda w: w.fresh_user().id))
MATRIX.update(_security_view("/roles", "RoleModelView", existing=_role_id("Support")))
MATRIX.update(_security_view("/groups", "UserGroupModelView", existing=_ids("group"),
                             fresh=lambda w: _add(w.app.appbuilder.sm.group_model(
                                 name=f"group{next(factories._counter)}", label="Fresh"))))
MATRIX.update(_security_view("/permissions", "PermissionModelView", existing=_first_id("permission_model"),
                             read_only=True))
MATRIX.update(_security_view("/viewmenus", "ViewMenuModelView", existing=_first_id("viewmenu_model"),
                             read_only=True))
MATRIX.update(_security_view("/permissionviews", "PermissionViewModelView",
                             existing=_first_id("permissionview_model"), read_only=True))


def _add(row) -> int:
    db.session.add(row)
    db.session.flush()
    return row.id


# --- custom admin routes -------------------------------------------------------------------------

def _doc(kind: str, state: str):
    """A document id of client A: an existing one for refused actors, a fresh one for allowed ones."""
    key = {("invoice", "draft"): "drafts", ("invoice", "sent"): "invoices",
           ("quote", "draft"): "quote_drafts", ("quote", "sent"): "quotes"}[(kind, state)]

    def pick(w, actor, allowed):
        if allowed:
            return (w.fresh_draft(kind) if state == "draft" else w.fresh_sent(kind)).id
        return w.ids[key]["A"]
    return pick


MATRIX.update({
    ("DashboardIndexView.index", "GET"): admin("GET", _static("/"), STAFF),
    ("ClientDashboardView.show", "GET"): admin("GET", _with(lambda w, a, al: f"/clients/{w.ids['clients']['A']}/dashboard"),
                                               CLIENT_READ),
    ("ClientDashboardView.portal_link", "POST"): admin(
        "POST", _with(lambda w, a, al: f"/clients/{w.ids['clients']['A']}/portal-link",
                      data=lambda w, a, al: {"contact_id": str(w.ids["contacts"]["A"])}), CLIENT_WRITE, (200, 302)),
    ("ClientDashboardView.portal_access", "POST"): admin(
        "POST", _with(lambda w, a, al: "/clients/contacts/" + str(
            w.fresh_client().contacts[0].id if al else w.ids["contacts"]["A"]) + "/portal-access", data={}),
        CLIENT_WRITE, REDIRECT),
    ("ClientDashboardView.save_contact", "POST"): admin(
        "POST", _with(lambda w, a, al: f"/clients/{w.ids['clients']['A']}/contacts",
                      data=lambda w, a, al: {"name": "Nuovo", "email": f"nuovo{next(factories._counter)}@example.it"}),
        CLIENT_WRITE, REDIRECT),
    ("ClientDashboardView.remove_contact", "POST"): admin(
        "POST", _with(lambda w, a, al: _contact_to_remove(w, al), data={}), CLIENT_WRITE, REDIRECT),
    ("ClientDashboardView.save_notes", "POST"): admin(
        "POST", _with(lambda w, a, al: f"/clients/{w.ids['clients']['A']}/notes", data={"notes": "Nota"}),
        CLIENT_WRITE, REDIRECT),
    ("ClientDashboardView.email_template", "GET"): admin(
        "GET", _with(lambda w, a, al: f"/clients/{w.ids['clients']['A']}/email-templates/invoice"), CLIENT_WRITE),
    ("ClientDashboardView.email_template", "POST"): admin(
        "POST", _with(lambda w, a, al: f"/clients/{w.ids['clients']['A']}/email-templates/reminder",
                      data={"subject": "Promemoria {{ document_number }}", "body": "Testo"}), CLIENT_WRITE, REDIRECT),
    ("ClientDashboardView.reset_email_template", "POST"): admin(
        "POST", _with(lambda w, a, al: f"/clients/{w.ids['clients']['A']}/email-templates/quote/reset", data={}),
        CLIENT_WRITE, REDIRECT),
    ("ClientDashboardView.statement_pdf", "GET"): admin(
        "GET", _with(lambda w, a, al: f"/clients/{w.ids['clients']['A']}/statement.pdf"), CLIENT_READ),
    ("ImportClientsView.upload", "GET"): admin("GET", _static("/import/clients/"), CLIENT_WRITE),
    ("ImportClientsView.upload", "POST"): admin("POST", _with(
        lambda w, a, al: "/import/clients/", data=lambda w, a, al: {"file": (io.BytesIO(IMPORT_CSV), "c.csv")}),
        CLIENT_WRITE),
    ("ImportClientsView.confirm", "POST"): admin("POST", _static(
        "/import/clients/confirm", data={"content": base64.b64encode(IMPORT_CSV).decode()}), CLIENT_WRITE, REDIRECT),
    ("ClientExportView.download", "GET"): admin("GET", _static("/exports/clients"), CLIENT_READ),
    ("InvoiceExportView.download", "GET"): admin("GET", _static("/exports/invoices?format=xlsx"), BILLING),
    ("PaymentExportView.download", "GET"): admin("GET", _static("/exports/payments"), BILLING),
    ("ClientDashboardView.send_statement", "POST"): admin(
        "POST", _with(lambda w, a, al: f"/clients/{w.ids['clients']['A']}/send-statement", data={}),
        CLIENT_WRITE, REDIRECT),
    ("ClientEmailTemplateView.preview", "GET"): admin(
        "GET", _with(lambda w, a, al: f"/clientemailtemplateview/preview/{w.ids['client_template']}"), CLIENT_READ),
    ("EmailTemplateView.preview", "GET"): admin(
        "GET", _with(lambda w, a, al: f"/emailtemplateview/preview/{w.ids['email_template']}"), ADMIN),
    ("OutboxView.resend", "POST"): admin(
        "POST", _with(lambda w, a, al: f"/outboxview/resend/{w.ids['outbox']}", data={}), BILLING, REDIRECT),
    ("TicketView.list", "GET"): admin("GET", _static("/tickets/list/"), TICKETS),
    ("TicketView.show", "GET"): admin("GET", _with(lambda w, a, al: f"/tickets/show/{w.ids['tickets']['A']}"),
                                      TICKETS),
    ("TicketView.attachment", "GET"): admin("GET", _with(lambda w, a, al: attachment_path(w.contact("A")).replace(
        f"/portal/tickets/{w.ids['tickets']['A']}/attachments/", f"/tickets/attachment/{w.ids['tickets']['A']}/")),
        TICKETS),
    ("TicketView.reply", "POST"): admin("POST", _with(lambda w, a, al: f"/tickets/reply/{w.ids['tickets']['A']}",
                                                      data={"body": "Risposta dello staff"}), TICKETS, REDIRECT),
    ("TicketView.close", "POST"): admin("POST", _with(lambda w, a, al: f"/tickets/close/{w.ids['tickets']['B']}",
                                                      data={}), TICKETS, REDIRECT),
    ("TicketView.reopen", "POST"): admin("POST", _with(lambda w, a, al: f"/tickets/reopen/{w.ids['tickets']['B']}",
                                                       data={}), TICKETS, REDIRECT),
    ("UserDBModelView.userinfo", "GET"): admin("GET", _static("/users/userinfo/"), STAFF),
    ("UserInfoEditView.this_form_get", "GET"): admin("GET", _static("/userinfoeditview/form"), STAFF),
    ("UserInfoEditView.this_form_post", "POST"): admin(
        "POST", _static("/userinfoeditview/form", data={"first_name": "Cambiato", "last_name": "Nome"}),
        STAFF, PAGE_OR_REDIRECT),
    ("ResetMyPasswordView.this_form_get", "GET"): admin("GET", _static("/resetmypassword/form"), STAFF),
    ("ResetMyPasswordView.this_form_post", "POST"): admin(
        "POST", _static("/resetmypassword/form", data={"password": "Nuova-Password-1", "conf_password":
                                                        "Nuova-Password-1"}), STAFF, PAGE_OR_REDIRECT),
    ("ResetPasswordView.this_form_get", "GET"): admin(
        "GET", _with(lambda w, a, al: f"/resetpassword/form?pk={w.ids['users']['Victim']}"), ADMIN),
    ("ResetPasswordView.this_form_post", "POST"): admin(
        "POST", _with(lambda w, a, al: "/resetpassword/form?pk=" + str(
            w.fresh_user().id if al else w.ids["users"]["Victim"]),
            data={"password": "Nuova-Password-1", "conf_password": "Nuova-Password-1"}), ADMIN, PAGE_OR_REDIRECT),
    ("UserStatsChartView.chart", "GET"): admin("GET", _static("/userstatschartview/chart/"), ADMIN),
    ("SwaggerView.show", "GET"): admin("GET", _static("/swagger/v1"), STAFF),
    ("AuthDBView.login", "GET"): Case("GET", _static("/login/"), EVERYONE, "public", PAGE_OR_REDIRECT),
    ("AuthDBView.login", "POST"): Case("POST", _static("/login/", data={"username": "nobody", "password": "x"}),
                                       EVERYONE, "public", PAGE_OR_REDIRECT),
    ("AuthDBView.logout", "GET"): Case("GET", _static("/logout/"), EVERYONE, "public", REDIRECT),
    ("LocaleView.index", "GET"): Case("GET", _static("/lang/en"), EVERYONE, "public", REDIRECT),
    ("UtilView.back", "GET"): Case("GET", _static("/back"), EVERYONE, "public", REDIRECT),
})

for kind, view in (("invoice", "InvoiceView"), ("quote", "QuoteView")):
    MATRIX.update({
        (f"{view}.new_for_client", "POST"): admin(
            "POST", _with(lambda w, a, al: f"/{kind}view/new/{w.ids['clients']['A']}", data={}), BILLING, REDIRECT),
        # Opening the editor (a GET since the one-page editor): it stores nothing, so no fresh row.
        (f"{view}.new_for_client", "GET"): admin(
            "GET", _with(lambda w, a, al: f"/{kind}view/new/{w.ids['clients']['A']}"), BILLING, REDIRECT),
        (f"{view}.pdf", "GET"): admin("GET", _with(
            lambda w, a, al, kind=kind: f"/{kind}view/pdf/{w.ids['invoices' if kind == 'invoice' else 'quotes']['A']}"),
            BILLING),
        (f"{view}.send", "GET"): admin("GET", _with(lambda w, a, al, kind=kind: f"/{kind}view/send/"
                                                    f"{_doc(kind, 'draft')(w, a, False)}"), BILLING),
        (f"{view}.send", "POST"): admin("POST", _with(
            lambda w, a, al, kind=kind: f"/{kind}view/send/{_doc(kind, 'draft')(w, a, al)}",
            data=lambda w, a, al: {"contact_ids": [str(w.ids["contacts"]["A"])]}), BILLING, REDIRECT),
    })
MATRIX[("InvoiceView.record_payment", "GET")] = admin(
    "GET", _with(lambda w, a, al: f"/invoiceview/payment/{w.ids['invoices']['A']}"), BILLING)
MATRIX[("InvoiceView.record_payment", "POST")] = admin(
    "POST", _with(lambda w, a, al: f"/invoiceview/payment/{_doc('invoice', 'sent')(w, a, al)}",
                  data={"amount": "10.00", "date": dt.date.today().isoformat(), "method": "cash", "reference": ""}),
    BILLING, REDIRECT)


MATRIX.update({
    ("EInvoiceView.files", "GET"): admin("GET", _static("/admin/sdi/"), BILLING),
    ("EInvoiceView.download", "GET"): admin("GET", _with(lambda w, a, al: f"/admin/sdi/file/{w.ids['einvoice_file']}"),
                                            BILLING),
    ("EInvoiceView.document_xml", "GET"): admin(
        "GET", _with(lambda w, a, al: f"/admin/sdi/invoice/{w.ids['invoices']['A']}/xml"), BILLING),
    ("EInvoiceView.upload", "POST"): admin("POST", _with(lambda w, a, al: "/admin/sdi/receipts", data=lambda w, a, al: {
        "receipt": (io.BytesIO(_delivery_receipt(w)), "RC.xml")}), BILLING, REDIRECT),
})


def _delivery_receipt(w: World) -> bytes:
    """An RC for client A's invoice file: importing it again changes nothing, for any actor."""
    return (f'<types:RicevutaConsegna xmlns:types="http://www.fatturapa.gov.it/sdi/messaggi/v1.0" versione="1.0">'
            f'<IdentificativoSdI>1</IdentificativoSdI><NomeFile>{w.ids["einvoice_file_name"]}</NomeFile>'
            f'<MessageId>matrix</MessageId></types:RicevutaConsegna>').encode()


# --- the REST API ------------------------------------------------------------------------------------

def _invoice_json(w, a, al):
    return {"client_id": w.ids["clients"]["A"], "lines": [factories.line()]}


MATRIX.update({
    ("ClientApi.get_list", "GET"): api("GET", _static("/api/v1/client/"), CLIENT_READ),
    ("ClientApi.get", "GET"): api("GET", _with(lambda w, a, al: f"/api/v1/client/{w.ids['clients']['A']}"),
                                  CLIENT_READ),
    ("ClientSummaryApi.summary", "GET"): api(
        "GET", _with(lambda w, a, al: f"/api/v1/client/{w.ids['clients']['A']}/summary"), CLIENT_READ),
    ("ClientStatementApi.statement", "GET"): api(
        "GET", _with(lambda w, a, al: f"/api/v1/client/{w.ids['clients']['A']}/statement.pdf"), CLIENT_READ),
    ("ClientImportApi.import_clients", "POST"): api("POST", lambda w, a, al: Call(
        "/api/v1/client/import?dry_run=1", IMPORT_CSV, content_type="text/csv"), CLIENT_WRITE),
    ("ClientExportApi.export", "GET"): api("GET", _static("/api/v1/export/clients.csv"), CLIENT_READ),
    ("InvoiceExportApi.export", "GET"): api("GET", _static("/api/v1/export/invoices.csv?format=xlsx"), BILLING),
    ("PaymentExportApi.export", "GET"): api("GET", _static("/api/v1/export/payments.csv"), BILLING),
    ("ClientApi.post", "POST"): api("POST", _static("/api/v1/client/", json={
        "name": "Da API S.r.l.", "kind": "business", "email": "api@example.it", "country": "IT",
        "vat_number": factories.VALID_PARTITE_IVA[1], "contacts": [{"name": "Api", "email": "api@example.it"}]}),
        CLIENT_WRITE, (201,)),
    ("ClientApi.put", "PUT"): api("PUT", _with(lambda w, a, al: f"/api/v1/client/{w.ids['clients']['A']}",
                                               json={"notes": "Scritto dall'API"}), CLIENT_WRITE),
    ("ClientEmailTemplateApi.get_client_template", "GET"): api(
        "GET", _with(lambda w, a, al: f"/api/v1/client/{w.ids['clients']['A']}/email-template/invoice"), CLIENT_READ),
    ("ClientEmailTemplateApi.put_client_template", "PUT"): api(
        "PUT", _with(lambda w, a, al: f"/api/v1/client/{w.ids['clients']['A']}/email-template/quote",
                     json={"subject": "Preventivo {{ document_number }}", "body": "Testo"}), CLIENT_WRITE),
    ("ClientEmailTemplateApi.delete_client_template", "DELETE"): api(
        "DELETE", _with(lambda w, a, al: "/api/v1/client/{}/email-template/invoice".format(
            w.ids["clients"]["A"] if not al else _fresh_override(w))), CLIENT_WRITE),
    ("EmailTemplateApi.get", "GET"): api("GET", _static("/api/v1/email-template/invoice"), ADMIN),
    ("EmailTemplateApi.put", "PUT"): api("PUT", _static("/api/v1/email-template/reminder", json={
        "subject": "Promemoria {{ document_number }}", "body": "Testo"}), ADMIN),
    ("TicketApi.get_list", "GET"): api("GET", _static("/api/v1/ticket/"), TICKETS),
    ("TicketApi.get", "GET"): api("GET", _with(lambda w, a, al: f"/api/v1/ticket/{w.ids['tickets']['A']}"), TICKETS),
    ("TicketApi.reply", "POST"): api("POST", _with(lambda w, a, al: f"/api/v1/ticket/{w.ids['tickets']['A']}/reply",
                                                   json={"body": "Risposta"}), TICKETS),
    ("OpenApi.get", "GET"): api("GET", _static("/api/v1/_openapi"), STAFF),
    ("MenuApi.get_menu_data", "GET"): api("GET", _static("/api/v1/menu/"), ADMIN),
    ("SecurityApi.login", "POST"): Case("POST", _static("/api/v1/security/login", json={
        "username": "matrix-victim", "password": PASSWORD, "provider": "db"}), EVERYONE, "public"),
    ("SecurityApi.refresh", "POST"): api("POST", _static("/api/v1/security/refresh"), SIGNED_IN),
})
for kind, resource in (("invoice", "Invoice"), ("quote", "Quote")):
    key = "invoices" if kind == "invoice" else "quotes"
    MATRIX.update({
        (f"{resource}Api.get_list", "GET"): api("GET", _static(f"/api/v1/{kind}/"), BILLING),
        (f"{resource}Api.get", "GET"): api("GET", _with(lambda w, a, al, k=key, r=kind: f"/api/v1/{r}/{w.ids[k]['A']}"),
                                           BILLING),
        (f"{resource}Api.pdf", "GET"): api("GET", _with(
            lambda w, a, al, k=key, r=kind: f"/api/v1/{r}/{w.ids[k]['A']}/pdf"), BILLING),
        (f"{resource}Api.post", "POST"): api("POST", _with(lambda w, a, al, r=kind: f"/api/v1/{r}/",
                                                           json=_invoice_json), BILLING, (201,)),
        (f"{resource}Api.put", "PUT"): api("PUT", _with(
            lambda w, a, al, k=key, r=kind: f"/api/v1/{r}/{w.ids[k]['A']}",
            json={"notes": "Nota dall'API"}), BILLING),
        (f"{resource}Api.send", "POST"): api("POST", _with(
            lambda w, a, al, r=kind: f"/api/v1/{r}/{_doc(r, 'draft')(w, a, al)}/send", json={}), BILLING),
    })
MATRIX.update({
    ("ProductApi.get_list", "GET"): api("GET", _static("/api/v1/product/"), BILLING),
    ("ProductApi.get", "GET"): api("GET", _with(lambda w, a, al: f"/api/v1/product/{w.ids['product']}"), BILLING),
    ("ProductApi.post", "POST"): api("POST", _static("/api/v1/product/", json={"name": "Dall'API",
                                                                              "unit_price": "5.00"}),
                                     BILLING, (201,)),
    ("ProductApi.put", "PUT"): api("PUT", _with(lambda w, a, al: "/api/v1/product/{}".format(
        _product().id if al else w.ids["product"]), json={"archived": True}), BILLING),
    ("RecurringInvoiceApi.get_list", "GET"): api("GET", _static("/api/v1/recurring-invoice/"), BILLING),
    ("RecurringInvoiceApi.get", "GET"): api("GET", _with(
        lambda w, a, al: f"/api/v1/recurring-invoice/{w.ids['schedule']}"), BILLING),
    ("RecurringInvoiceApi.post", "POST"): api("POST", _with(
        lambda w, a, al: "/api/v1/recurring-invoice/",
        json=lambda w, a, al: {"client_id": w.ids["clients"]["A"], "start_date": "2030-01-01",
                               "lines": [factories.line()]}), BILLING, (201,)),
    ("RecurringInvoiceApi.put", "PUT"): api("PUT", _with(lambda w, a, al: "/api/v1/recurring-invoice/{}".format(
        _schedule(w.client("A")).id if al else w.ids["schedule"]), json={"active": False}), BILLING),
})
MATRIX[("InvoiceApi.payment", "POST")] = api("POST", _with(
    lambda w, a, al: f"/api/v1/invoice/{_doc('invoice', 'sent')(w, a, al)}/payment",
    json={"amount": "10.00", "method": "cash"}), BILLING, (201,))


def _fresh_override(w: World) -> int:
    client = w.fresh_client()
    templating.save_client_template(client, "invoice", "S", "B")
    return client.id


# --- credit notes and company settings ---------------------------------------------------------------

def _fresh_credit_note(w: World) -> int:
    return billing.create_credit_note(w.fresh_sent("invoice"), "Reso").id


def _credit_note_target(w: World, actor: str, allowed: bool) -> int:
    return _fresh_credit_note(w) if allowed else w.ids["credit_note_draft"]


def _credit_note_form(w: World) -> dict:
    return {"issue_date": dt.date.today().isoformat(), "reason": "Reso parziale", "notes": "",
            "lines-0-description": "Riga", "lines-0-quantity": "1", "lines-0-unit_price": "10",
            "lines-0-discount": "0", "lines-0-tax_rate": "22", "lines-0-vat_nature": "",
            "lines-0-vat_nature_reference": ""}


MATRIX.update(crud("/creditnoteview", "CreditNoteView", read=BILLING, write=BILLING,
                   existing=_ids("credit_note_draft"), fresh=_fresh_credit_note, form=_credit_note_form,
                   action="finalize"))
MATRIX.update(crud("/creditnotelineview", "CreditNoteLineView", read=BILLING, write=None,
                   existing=lambda w: db.session.get(CreditNote, w.ids["credit_note_draft"]).lines[0].id))
MATRIX.update({
    ("CreditNoteView.new_for_client", "POST"): absent(
        "POST", _with(lambda w, a, al: f"/creditnoteview/new/{w.ids['clients']['A']}", data={}),
        status=(302, 403, 404)),
    ("CreditNoteView.pdf", "GET"): admin(
        "GET", _with(lambda w, a, al: f"/creditnoteview/pdf/{w.ids['einvoice_credit_note']}"), BILLING),
    ("CreditNoteView.send", "GET"): admin(
        "GET", _with(lambda w, a, al: f"/creditnoteview/send/{w.ids['credit_note_draft']}"), BILLING),
    ("CreditNoteView.send", "POST"): admin(
        "POST", _with(lambda w, a, al: f"/creditnoteview/send/{_credit_note_target(w, a, al)}",
                      data=lambda w, a, al: {"contact_ids": [str(w.ids["contacts"]["A"])]}), BILLING, REDIRECT),
    ("InvoiceView.new_credit_note", "GET"): admin(
        "GET", _with(lambda w, a, al: f"/invoiceview/credit-note/{w.ids['invoices']['A']}"), BILLING),
    ("InvoiceView.new_credit_note", "POST"): admin(
        "POST", _with(lambda w, a, al: f"/invoiceview/credit-note/{_doc('invoice', 'sent')(w, a, al)}",
                      data={"reason": "Reso"}), BILLING, REDIRECT),
    ("InvoiceApi.credit_note", "POST"): api(
        "POST", _with(lambda w, a, al: f"/api/v1/invoice/{_doc('invoice', 'sent')(w, a, al)}/credit-note",
                      json={"reason": "Reso"}), BILLING, (201,)),
    ("CreditNoteApi.get_list", "GET"): api("GET", _static("/api/v1/credit-note/"), BILLING),
    ("CreditNoteApi.get", "GET"): api(
        "GET", _with(lambda w, a, al: f"/api/v1/credit-note/{w.ids['einvoice_credit_note']}"), BILLING),
    ("CreditNoteApi.pdf", "GET"): api(
        "GET", _with(lambda w, a, al: f"/api/v1/credit-note/{w.ids['einvoice_credit_note']}/pdf"), BILLING),
    ("CreditNoteApi.put", "PUT"): api(
        "PUT", _with(lambda w, a, al: f"/api/v1/credit-note/{w.ids['credit_note_draft']}",
                     json={"notes": "Nota dall'API"}), BILLING),
    ("CreditNoteApi.send", "POST"): api(
        "POST", _with(lambda w, a, al: f"/api/v1/credit-note/{_credit_note_target(w, a, al)}/send", json={}),
        BILLING),
    ("CompanyApi.get", "GET"): api("GET", _static("/api/v1/company/"), ADMIN),
    ("CompanyApi.put", "PUT"): api("PUT", _static("/api/v1/company/", json={"regime_fiscale": "RF01"}), ADMIN),
})


# --- public routes ---------------------------------------------------------------------------------

MATRIX.update({
    ("static", "GET"): Case("GET", _static("/static/portal/portal.css"), EVERYONE, "public"),
    ("appbuilder.static", "GET"): Case("GET", _static("/static/appbuilder/css/flags/flags16.css"), EVERYONE, "public"),
    ("health.healthz", "GET"): Case("GET", _static("/healthz"), EVERYONE, "public"),
    # With Stripe configured, an unsigned event is refused (400) for everyone alike; without it the
    # route is 404. Signed events: tests/payments/test_payments_stripe.py.
    ("stripe_webhooks.stripe_webhook", "POST"): Case(
        "POST", _static("/webhooks/stripe", json={"id": "evt_forged", "type": "checkout.session.completed"}),
        NOBODY, "absent", absent_status=(400,),
        config={"STRIPE_SECRET_KEY": "sk_test_matrix", "STRIPE_WEBHOOK_SECRET": "whsec_matrix"}),
})


MATRIX.update({
    ("EInvoiceApi.invoice_xml", "GET"): api(
        "GET", _with(lambda w, a, al: f"/api/v1/invoice/{w.ids['invoices']['A']}/fatturapa"), BILLING),
    ("EInvoiceApi.credit_note_xml", "GET"): api(
        "GET", _with(lambda w, a, al: f"/api/v1/credit-note/{w.ids['einvoice_credit_note']}/fatturapa"), BILLING),
    ("EInvoiceApi.export", "GET"): api("GET", _static("/api/v1/einvoice/export?from=2000-01-01&to=2100-12-31"),
                                       BILLING),
    ("EInvoiceApi.receipts", "POST"): api("POST", _with(lambda w, a, al: "/api/v1/sdi/receipts",
                                                        data=lambda w, a, al: _delivery_receipt(w)), BILLING),
})


# --- the portal: `owner` is whose objects the call names --------------------------------------------

def portal(method, build, ok, scoped=True, public=False) -> Case:
    return Case(method, build, EVERYONE if public else frozenset(CONTACTS), "portal", ok, scoped)


def _owner_quote(w: World, owner: str, allowed: bool) -> int:
    return w.fresh_sent("quote", owner).id if allowed else w.ids["quotes"][owner]


MATRIX.update({
    ("portal.login", "GET"): portal("GET", _static("/portal/login"), (200,), scoped=False, public=True),
    ("portal.login", "POST"): portal("POST", _static("/portal/login", data={"email": "nessuno@example.it"}),
                                     (200, 303), scoped=False, public=True),
    ("portal.auth", "GET"): portal("GET", _with(
        lambda w, o, al: f"/portal/auth/{link_token(issue_sign_in_link(w.contact(o)))}"), (200,), public=True),
    ("portal.auth", "POST"): portal("POST", _with(
        lambda w, o, al: f"/portal/auth/{link_token(issue_sign_in_link(w.contact(o)))}", data={}), (303,),
        public=True),
    ("portal.logo", "GET"): portal("GET", _static("/portal/logo"), (404,), scoped=False, public=True),  # no logo set
    ("portal.logout", "POST"): portal("POST", _static("/portal/logout", data={}), (303,), scoped=False),
    ("portal.statement", "GET"): portal("GET", _static("/portal/"), (200,), scoped=False),
    ("portal.statement_pdf", "GET"): portal("GET", _static("/portal/statement.pdf"), (200,), scoped=False),
    ("portal.invoices", "GET"): portal("GET", _static("/portal/invoices"), (200,), scoped=False),
    ("portal.invoice", "GET"): portal("GET", _with(lambda w, o, al: f"/portal/invoices/{w.ids['invoices'][o]}"),
                                      (200,)),
    ("portal.invoice_pdf", "GET"): portal("GET", _with(
        lambda w, o, al: f"/portal/invoices/{w.ids['invoices'][o]}/pdf"), (200,)),
    ("portal.invoice_xml", "GET"): portal("GET", _with(
        lambda w, o, al: f"/portal/invoices/{w.ids['invoices'][o]}/xml"), (200,)),
    ("portal.download_invoices", "POST"): portal("POST", _with(
        lambda w, o, al: "/portal/invoices/download", data=lambda w, o, al: {"ids": [str(w.ids["invoices"][o])]}),
        (200,)),
    ("portal.quotes", "GET"): portal("GET", _static("/portal/quotes"), (200,), scoped=False),
    ("portal.quote", "GET"): portal("GET", _with(lambda w, o, al: f"/portal/quotes/{w.ids['quotes'][o]}"), (200,)),
    ("portal.quote_pdf", "GET"): portal("GET", _with(lambda w, o, al: f"/portal/quotes/{w.ids['quotes'][o]}/pdf"),
                                        (200,)),
    ("portal.accept_quote", "POST"): portal("POST", _with(
        lambda w, o, al: f"/portal/quotes/{_owner_quote(w, o, al)}/accept", data={}), (303,)),
    ("portal.reject_quote", "POST"): portal("POST", _with(
        lambda w, o, al: f"/portal/quotes/{_owner_quote(w, o, al)}/reject", data={"reason": "Troppo caro"}),
        (303,)),
    ("tickets.portal_list", "GET"): portal("GET", _static("/portal/tickets"), (200,), scoped=False),
    ("tickets.portal_list", "POST"): portal("POST", _static("/portal/tickets", data={
        "subject": "Nuova domanda", "body": "Buongiorno", "document": ""}), (303,), scoped=False),
    ("tickets.portal_ticket", "GET"): portal("GET", _with(lambda w, o, al: f"/portal/tickets/{w.ids['tickets'][o]}"),
                                             (200,)),
    ("tickets.portal_ticket", "POST"): portal("POST", _with(
        lambda w, o, al: f"/portal/tickets/{w.ids['tickets'][o]}", data={"body": "Ancora una domanda"}), (303,)),
    ("tickets.portal_attachment", "GET"): portal("GET", _with(lambda w, o, al: attachment_path(w.contact(o))),
                                                 (200,)),
    ("payments.pay", "POST"): portal("POST", _with(lambda w, o, al: f"/portal/invoices/{w.ids['invoices'][o]}/pay",
                                                   data={}), (303,)),
    ("payments.paid", "GET"): portal("GET", _with(lambda w, o, al: f"/portal/invoices/{w.ids['invoices'][o]}/paid"),
                                     (200,)),
    ("payments.cancelled", "GET"): portal("GET", _with(
        lambda w, o, al: f"/portal/invoices/{w.ids['invoices'][o]}/pay/cancelled"), (302,)),
})


# --- running one cell ------------------------------------------------------------------------------

def snapshot(app: Flask) -> dict[str, list[str]]:
    """Every row of every table: a refused call must leave all of them as they were."""
    with app.app_context(), db.engine.connect() as connection:
        return {table.name: sorted(repr(tuple(row)) for row in connection.execute(table.select()))
                for table in Model.metadata.sorted_tables}


def changed(before: dict, after: dict) -> dict[str, int]:
    return {name: len(set(after[name]) ^ set(before[name])) for name in before if before[name] != after[name]}


@dataclass
class Actor:
    name: str
    web: object
    headers: dict = field(default_factory=dict)


def _actor(app: Flask, world_ids: dict, name: str) -> Actor:
    web = app.test_client()
    if name in STAFF_ROLES:
        user_id = world_ids["users"][name]
        with web.session_transaction() as session:  # signed in as FAB's login form does, minus the hashing
            session["_user_id"] = str(user_id)
            session["_fresh"] = True
        with app.app_context():
            token = create_access_token(identity=str(user_id), fresh=True)
        return Actor(name, web, {"Authorization": f"Bearer {token}"})
    if name in CONTACTS:
        with app.app_context():
            sign_in(web, db.session.get(Contact, world_ids["contacts"][name]))
            db.session.remove()
    return Actor(name, web)


def _send(app: Flask, world_ids: dict, actor: Actor, case: Case, endpoint: str, target: str, allowed: bool):
    with app.app_context():
        call = case.build(World(world_ids, app), target, allowed)
        db.session.commit()
        db.session.remove()
    headers = dict(actor.headers) if case.kind == "api" or endpoint.startswith("SecurityApi") else {}
    if endpoint == "SecurityApi.refresh" and actor.name in STAFF_ROLES:
        with app.app_context():
            headers["Authorization"] = "Bearer " + create_refresh_token(identity=str(world_ids["users"][actor.name]))
    response = actor.web.open(call.path, method=case.method, data=call.data, json=call.json, headers=headers,
                              content_type=call.content_type)
    if response.is_streamed:
        # Read to its end now, as a browser would: left unread, a streamed export's generator is
        # collected during a later request and pops that request's context instead of its own.
        response.get_data()
    return response


def _expected_refusal(case: Case, actor: str) -> tuple[tuple[int, ...], str | None]:
    """The statuses (and the Location prefix, for redirects) a refused actor meets."""
    if case.kind == "absent":
        return case.absent_status, None
    if case.kind == "api":
        return ((403,) if actor in STAFF_ROLES else (401,)), None
    if case.kind == "portal":
        return ((404,) if actor in CONTACTS else (302, 303)), "/portal/login"
    return ((403,) if actor in STAFF_ROLES else (302,)), "/login/"


def _cells(case: Case):
    """(actor, target, allowed): the portal names each owner's objects; elsewhere client A's."""
    for actor in ACTORS:
        if case.kind != "portal":
            yield actor, "A", actor in case.allowed
        elif not case.scoped:
            yield actor, actor if actor in CONTACTS else "A", actor in case.allowed
        else:
            for owner in CONTACTS:
                yield actor, owner, case.allowed == EVERYONE or actor == owner


@pytest.mark.parametrize("endpoint,method", sorted(MATRIX), ids=[f"{e}-{m}" for e, m in sorted(MATRIX)])
def test_each_actor_gets_exactly_what_the_route_allows(app, world_ids, endpoint, method):
    case = MATRIX[(endpoint, method)]
    saved = {key: app.config.get(key) for key in case.config}
    app.config.update(case.config)
    try:
        _run_cells(app, world_ids, case, endpoint, method)
    finally:
        app.config.update(saved)


def _run_cells(app, world_ids, case, endpoint, method):
    actors = {name: _actor(app, world_ids, name) for name in ACTORS}
    cells = list(_cells(case))
    refused = [cell for cell in cells if not cell[2]]
    # Refused cells first, on the untouched world; one snapshot around all of them (each one is
    # a full copy of every table: per cell it would triple the run time on PostgreSQL).
    before = snapshot(app)
    for actor_name, target, _allowed in refused:
        where = f"{method} {endpoint} as {actor_name} on {target}'s"
        response = _send(app, world_ids, actors[actor_name], case, endpoint, target, False)
        statuses, location = _expected_refusal(case, actor_name)
        assert response.status_code in statuses, f"{where}: {response.status_code}, expected {statuses}"
        if location and response.status_code in (302, 303):
            assert location in response.headers["Location"], f"{where}: sent to {response.headers['Location']}"
    after = snapshot(app)
    assert not changed(before, after), \
        f"{method} {endpoint}: refused calls ({[cell[:2] for cell in refused]}) changed rows: {changed(before, after)}"
    for actor_name, target, _allowed in [cell for cell in cells if cell[2]]:
        where = f"{method} {endpoint} as {actor_name} on {target}'s"
        response = _send(app, world_ids, actors[actor_name], case, endpoint, target, True)
        assert response.status_code in case.ok, f"{where}: {response.status_code}, expected {case.ok}"
        location = response.headers.get("Location", "")
        assert "/login" not in location or endpoint.startswith(("AuthDBView", "portal.logout")), \
            f"{where}: sent to sign in ({location})"


def test_every_rule_of_the_app_is_in_the_matrix(app):
    rules = {(rule.endpoint, method) for rule in app.url_map.iter_rules()
             for method in rule.methods - {"HEAD", "OPTIONS"}}
    missing = rules - set(MATRIX)
    assert not missing, f"add these routes to the authorization matrix: {sorted(missing)}"
    assert set(MATRIX) <= rules, f"the matrix names routes that no longer exist: {sorted(set(MATRIX) - rules)}"
