"""Building the demo rows and writing them in batches (see the package docstring)."""
from __future__ import annotations

import datetime as dt
import random
import re
import time
from collections import defaultdict
from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import Callable, NamedTuple

from sqlalchemy import Insert, select
from sqlalchemy.orm import selectinload

from app.activity.models import Activity
from app.billing.accounts import rebuild_accounts
from app.billing.models import (
    OPEN_INVOICE_STATUSES,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    Payment,
    PaymentMethod,
    Quote,
    QuoteLine,
    QuoteStatus,
)
from app.billing.numbering import format_number, next_number
from app.billing.rollups import count_new_documents
from app.billing.services import billing_block
from app.billing.states import status_after_payments
from app.billing.totals import NO_TERMS, TaxTerms, balance_of, compute_totals, line_amount
from app.clients.models import Client, ClientKind, Contact
from app.clients.validation import clean_client_fields
from app.company.models import CompanySettings
from app.company.services import get_company
from app.einvoice import services as einvoice
from app.extensions import db
from app.money import ZERO, round_cents

from app.demo.data import (
    BUSINESS_SERVICES,
    CITIES,
    EU_SERVICES,
    FEMALE_NAMES,
    FOREIGN_CITIES,
    FOREIGN_COMPANIES,
    LEGAL_FORMS,
    MALE_NAMES,
    PERSONAL_MAIL_DOMAINS,
    PERSONAL_SERVICES,
    PLACE_WORDS,
    REVERSE_CHARGE_NOTE,
    SECTORS,
    STREETS,
    SURNAMES,
)
from app.demo.identifiers import codice_fiscale, eu_vat_number, partita_iva

INVOICE_SCENARIOS = ("draft", "sent", "partial", "paid", "overdue", "cancelled")
INVOICE_WEIGHTS = (8, 12, 10, 50, 14, 6)
QUOTE_STATUSES = tuple(s.value for s in QuoteStatus)
QUOTE_WEIGHTS = (10, 15, 45, 15, 15)
BATCH_SIZE = 250

DEFAULT_COMPANY_NAME = CompanySettings.__table__.c.legal_name.default.arg


@dataclass(frozen=True)
class DemoSummary:
    clients: int = 0
    contacts: int = 0
    invoices: int = 0
    quotes: int = 0
    payments: int = 0
    activities: int = 0
    einvoices: int = 0  # FatturaPA files stored
    einvoice_seconds: float = 0.0  # the time they took

    def __add__(self, other: "DemoSummary") -> "DemoSummary":
        return DemoSummary(**{k: v + getattr(other, k) for k, v in asdict(self).items()})


class _Line(NamedTuple):
    description: str
    quantity: Decimal
    unit_price: Decimal
    discount: Decimal
    tax_rate: Decimal
    vat_nature: str = ""
    vat_nature_reference: str = ""


def create_demo_data(clients: int = 25, invoices_per_client: int = 6, *, seed: int | None = None,
                     today: dt.date | None = None, batch_size: int = BATCH_SIZE,
                     progress: Callable[[int, DemoSummary], object] | None = None,
                     einvoices: bool = True) -> DemoSummary:
    """Add `clients` demo clients, each with invoices, quotes, payments and a timeline, and
    the e-invoice file of each finalized invoice unless `einvoices` is false.

    Commits once per batch of clients; `progress` is called with the number of clients each
    committed batch added and what the run added so far. The same `seed` and `today` give
    the same data.
    """
    generator = _DemoGenerator(random.Random(seed), today or dt.date.today())
    generator.fill_company_settings()
    company = generator.company
    generator.issue_einvoices = (einvoices and einvoice.enabled(company)
                                 and company.einvoice_channel != "pec")
    summary = DemoSummary()
    done = 0
    while done < clients:
        size = min(batch_size, clients - done)
        summary += generator.add_batch(size, invoices_per_client)
        db.session.commit()
        done += size
        if progress:
            progress(size, summary)
    return summary


def _insert(model) -> Insert:
    """A Core INSERT on the model's table: one multi-row statement per batch of dicts.

    (The ORM's bulk INSERT splits rows by which values are None, and with RETURNING that
    means thousands of statements.)"""
    return model.__table__.insert()


def _slug(value: str) -> str:
    return re.sub(r"[^a-z0-9]", "", value.lower().replace("&", "e"))


def _ascii(value: str) -> str:
    return value.replace("'", "").replace(" ", "").lower()


class _DemoGenerator:
    """Builds batches of rows; keeps what must stay unique across batches (emails, VAT numbers)."""

    def __init__(self, rng: random.Random, today: dt.date):
        self.rng = rng
        self.today = today
        self.client_count = 0
        self.invoice_count = 0
        self.quote_count = 0
        self.used_emails = set(db.session.scalars(select(Contact.email)))
        self.used_vat_numbers = set(db.session.scalars(select(Client.vat_number)))
        self.company = get_company()
        self.issue_einvoices = False

    # --- company -------------------------------------------------------------------------

    def fill_company_settings(self) -> None:
        """Give the company row demo values, only while it still has the defaults."""
        company = self.company
        if company.legal_name != DEFAULT_COMPANY_NAME or company.vat_number or company.iban:
            return
        vat = partita_iva(self.rng)
        company.legal_name = "Studio Aurora S.r.l."
        company.address = "Via Giuseppe Mazzini 12"
        company.city, company.province, company.postal_code, company.country = "Bologna", "BO", "40121", "IT"
        company.vat_number = company.tax_code = vat
        company.iban = "IT60X0542811101000000123456"
        company.bank_name = "Banca Popolare di Bergamo"
        company.email = "amministrazione@studioaurora.example"
        company.sender_email = "fatture@studioaurora.example"
        company.support_email = "assistenza@studioaurora.example"
        company.phone = "051 123 4567"
        company.website = "https://studioaurora.example"
        company.default_terms = "Pagamento tramite bonifico bancario entro la data di scadenza indicata."
        db.session.flush()

    # --- one batch -----------------------------------------------------------------------

    def add_batch(self, size: int, invoices_per_client: int) -> DemoSummary:
        client_rows = [self._client() for _ in range(size)]
        contacts = [self._contacts(row) for row in client_rows]
        client_ids = db.session.scalars(
            _insert(Client).returning(Client.id, sort_by_parameter_order=True), client_rows
        ).all()
        events: list[dict] = []
        contact_rows = []
        for client_id, row, people in zip(client_ids, client_rows, contacts):
            row["id"] = client_id
            contact_rows.extend({**person, "client_id": client_id} for person in people)
            events.append(self._event("client_created", row, row["created_at"]))
        db.session.execute(_insert(Contact), contact_rows)

        invoices: list[dict] = []
        quotes: list[dict] = []
        quotes_per_client = -(-invoices_per_client // 3)
        for row in client_rows:
            client_invoices = [self._invoice(row) for _ in range(invoices_per_client)]
            client_quotes = [self._quote(row, client_invoices) for _ in range(quotes_per_client)]
            invoices.extend(client_invoices)
            quotes.extend(client_quotes)

        self._number(Quote, quotes, self.company.quote_number_format)
        self._number(Invoice, invoices, self.company.invoice_number_format)
        self._insert_documents(Quote, QuoteLine, "quote_id", quotes)
        for invoice in invoices:
            if invoice.get("_quote"):
                invoice["quote_id"] = invoice["_quote"]["id"]
        self._insert_documents(Invoice, InvoiceLine, "invoice_id", invoices)

        payment_rows = []
        for invoice in invoices:
            for payment in invoice["_payments"]:
                payment_rows.append({**payment, "invoice_id": invoice["id"], "client_id": invoice["client_id"],
                                     "currency": invoice["currency"]})
        if payment_rows:
            db.session.execute(_insert(Payment), payment_rows)

        for document in quotes + invoices:
            for kind, when, params in document["_events"]:
                events.append(self._event(kind, document, when, **params))
        db.session.execute(_insert(Activity), events)
        # Bulk INSERTs bypass the flush listeners that keep the rollups: build them here.
        rebuild_accounts(client_ids)
        count_new_documents(client_ids)
        started = time.perf_counter()
        files = self._issue_einvoices([i["id"] for i in invoices if i["status"] != InvoiceStatus.DRAFT.value])
        return DemoSummary(clients=size, contacts=len(contact_rows), invoices=len(invoices), quotes=len(quotes),
                           payments=len(payment_rows), activities=len(events), einvoices=files,
                           einvoice_seconds=time.perf_counter() - started if files else 0.0)

    def _issue_einvoices(self, invoice_ids: list[int]) -> int:
        """Store the FatturaPA file of each finalized invoice, as finalization would have."""
        if not self.issue_einvoices or not invoice_ids:
            return 0
        documents = db.session.scalars(
            select(Invoice).where(Invoice.id.in_(invoice_ids)).options(selectinload(Invoice.lines))
            .order_by(Invoice.issue_date, Invoice.id)
        ).all()
        for document in documents:
            einvoice.issue_file(document)
        return len(documents)

    def _number(self, model, documents: list[dict], pattern: str) -> None:
        """Number the finalized documents per year in date order, from one block per year."""
        by_year: dict[int, list[dict]] = defaultdict(list)
        for document in documents:
            if document["status"] != "draft":
                by_year[document["issue_date"].year].append(document)
        for year, group in sorted(by_year.items()):
            group.sort(key=lambda d: d["sent_at"])
            first = next_number(model.__tablename__, year, count=len(group))
            for offset, document in enumerate(group):
                document.update(year=year, sequence=first + offset,
                                number=format_number(pattern, year, first + offset))

    def _insert_documents(self, model, line_model, foreign_key: str, documents: list[dict]) -> None:
        if not documents:
            return
        columns = {c.key for c in model.__table__.columns} - {"id"}
        rows = [{k: v for k, v in d.items() if k in columns} for d in documents]
        ids = db.session.scalars(_insert(model).returning(model.id, sort_by_parameter_order=True), rows).all()
        line_rows = []
        for document_id, document in zip(ids, documents):
            document["id"] = document_id
            for position, line in enumerate(document["_lines"]):
                line_rows.append({
                    **line._asdict(),
                    "position": position,
                    "amount": line_amount(line.quantity, line.unit_price, line.discount),
                    foreign_key: document_id,
                })
        db.session.execute(_insert(line_model), line_rows)

    # --- clients -------------------------------------------------------------------------

    def _client(self) -> dict:
        """Mostly Italian businesses, some private persons, a few EU businesses (one of each first)."""
        rng = self.rng
        kinds = (self._italian_business, self._individual, self._foreign_business)
        if self.client_count < len(kinds):
            make = kinds[self.client_count]
        else:
            make = rng.choices(kinds, (74, 20, 6))[0]
        self.client_count += 1
        row = make()
        row["created_at"] = dt.datetime.combine(self.today - dt.timedelta(days=rng.randint(560, 1500)),
                                                dt.time(rng.randint(8, 18), rng.randint(0, 59)))
        row.setdefault("notes", "")
        row["archived"] = False
        cleaned = clean_client_fields(row)
        if cleaned.errors:  # the generator is wrong, not the data: fail loudly
            raise AssertionError(f"invalid demo client {row['name']}: {dict(cleaned.errors)}")
        return cleaned.values

    def _unique_vat(self, make: Callable[[], str]) -> str:
        while (vat := make()) in self.used_vat_numbers:
            pass
        self.used_vat_numbers.add(vat)
        return vat

    def _domain(self, name: str) -> str:
        base = _slug(name)[:30]
        domain, n = f"{base}.example", 1
        while f"amministrazione@{domain}" in self.used_emails:
            n += 1
            domain = f"{base}{n}.example"
        return domain

    def _email(self, local: str, domain: str) -> str:
        email, n = f"{local}@{domain}", 1
        while email in self.used_emails:
            n += 1
            email = f"{local}{n}@{domain}"
        self.used_emails.add(email)
        return email

    def _italian_business(self) -> dict:
        rng = self.rng
        city, province, cap, _belfiore, prefix = rng.choice(CITIES)
        surname = rng.choice(SURNAMES)
        style = rng.random()
        if style < 0.4:
            stem = f"{surname} {rng.choice(SECTORS)}"
        elif style < 0.7:
            stem = f"{rng.choice(SECTORS)} {rng.choice(PLACE_WORDS)}"
        else:
            stem = f"{surname} & {rng.choice(SURNAMES)}"
        name = f"{stem} {rng.choice(LEGAL_FORMS)}"
        domain = self._domain(stem)
        vat = self._unique_vat(lambda: partita_iva(rng))
        has_pec = rng.random() < 0.5
        return {
            "name": name,
            "kind": ClientKind.BUSINESS.value,
            "email": self._email("amministrazione", domain),
            "phone": f"{prefix} {rng.randint(100_000, 9_999_999)}",
            "address": f"{rng.choice(STREETS)} {rng.randint(1, 180)}",
            "city": city, "province": province, "postal_code": cap, "country": "IT",
            "vat_number": vat, "tax_code": vat,
            "sdi_code": "" if has_pec else "".join(rng.choices("ABCDEFGHJKLMNPQRSTUVWXYZ0123456789", k=7)),
            "pec": self._email(_slug(stem)[:20], "pec.example") if has_pec else "",
            "language": "it", "currency": "EUR",
            "_domain": domain,
        }

    def _individual(self) -> dict:
        rng = self.rng
        female = rng.random() < 0.5
        first = rng.choice(FEMALE_NAMES if female else MALE_NAMES)
        surname = rng.choice(SURNAMES)
        city, province, cap, belfiore, _prefix = rng.choice(CITIES)
        born = dt.date(rng.randint(1950, 2000), rng.randint(1, 12), rng.randint(1, 28))
        local = f"{_ascii(first)}.{_ascii(surname)}"
        return {
            "name": f"{first} {surname}",
            "kind": ClientKind.INDIVIDUAL.value,
            "email": self._email(local, rng.choice(PERSONAL_MAIL_DOMAINS)),
            "phone": f"+39 3{rng.randint(20, 49)} {rng.randint(100, 999)} {rng.randint(1000, 9999)}",
            "address": f"{rng.choice(STREETS)} {rng.randint(1, 180)}",
            "city": city, "province": province, "postal_code": cap, "country": "IT",
            "vat_number": "", "tax_code": codice_fiscale(rng, first, surname, female, belfiore, born),
            # Private persons receive e-invoices in their tax drawer: the code is seven zeros.
            "sdi_code": "0000000", "pec": "",
            "language": "it", "currency": "EUR",
            "_person": (first, surname),
        }

    def _foreign_business(self) -> dict:
        rng = self.rng
        country, city, postal_code, street = rng.choice(FOREIGN_CITIES)
        name = rng.choice(FOREIGN_COMPANIES)
        domain = self._domain(name)
        return {
            "name": name,
            "kind": ClientKind.BUSINESS.value,
            "email": self._email("accounts", domain),
            "phone": "",
            "address": f"{street} {rng.randint(1, 90)}",
            "city": city, "province": "", "postal_code": postal_code, "country": country,
            "vat_number": self._unique_vat(lambda: eu_vat_number(rng, country)), "tax_code": "",
            "sdi_code": "XXXXXXX", "pec": "",  # the SDI code Italian e-invoicing uses for foreign clients
            "language": "en", "currency": "EUR",
            "notes": "Cliente UE: fatture in reverse charge.",
            "_domain": domain,
        }

    def _contacts(self, client: dict) -> list[dict]:
        """One primary contact, and up to two more for businesses."""
        rng = self.rng
        if client["kind"] == ClientKind.INDIVIDUAL.value:
            first, surname = client.pop("_person")
            people = [(f"{first} {surname}", client["email"], client["phone"])]
        else:
            domain = client.pop("_domain")
            people = []
            for _ in range(rng.choice((1, 1, 2, 2, 3))):
                first = rng.choice(MALE_NAMES + FEMALE_NAMES)
                surname = rng.choice(SURNAMES)
                email = self._email(f"{_ascii(first)}.{_ascii(surname)}", domain)
                phone = f"+39 3{rng.randint(20, 49)} {rng.randint(100, 999)} {rng.randint(1000, 9999)}"
                people.append((f"{first} {surname}", email, phone if client["country"] == "IT" else ""))
        return [
            {"name": name, "email": email, "phone": phone, "is_primary": index == 0,
             "portal_enabled": True, "session_version": 1}
            for index, (name, email, phone) in enumerate(people)
        ]

    # --- documents -----------------------------------------------------------------------

    def _lines(self, client: dict) -> list[_Line]:
        rng = self.rng
        if client["country"] != "IT":
            catalog, count = EU_SERVICES, rng.randint(1, 2)
        elif client["kind"] == ClientKind.INDIVIDUAL.value:
            catalog, count = PERSONAL_SERVICES, rng.randint(1, 2)
        else:
            catalog, count = BUSINESS_SERVICES, rng.choice((1, 1, 2, 2, 3, 4, 5))
        lines = []
        for service in rng.sample(catalog, min(count, len(catalog))):
            lines.append(_Line(
                description=service.description,
                quantity=Decimal(rng.choice(service.quantities)),
                unit_price=Decimal(rng.randint(service.low * 100, service.high * 100)).scaleb(-2),
                discount=Decimal(rng.choice((0, 0, 0, 0, 0, 5, 10))),
                tax_rate=Decimal(service.tax_rate),
                vat_nature=service.vat_nature,
            ))
        return lines

    def _document(self, client: dict, issue_date: dt.date, lines: list[_Line], *, invoice: bool = False) -> dict:
        """A document's row; an invoice with the tax blocks finalization would fix (the demo
        company has no withholding nor pension fund; stamp duty as its settings say)."""
        terms = TaxTerms(stamp_duty_auto=self.company.stamp_duty == "auto",
                         stamp_duty_charged=bool(self.company.stamp_duty_charged_to_client),
                         split_payment=bool(client.get("split_payment"))) if invoice else NO_TERMS
        totals = compute_totals(lines, terms)
        created = self._at(issue_date)
        taxes = {
            "stamp_duty_auto": terms.stamp_duty_auto, "stamp_duty_charged": terms.stamp_duty_charged,
            "stamp_duty_amount": totals.stamp_duty_amount, "split_payment": terms.split_payment,
            "net_to_pay": totals.net_to_pay,
        } if invoice else {}
        return {
            **taxes,
            "client_id": client["id"],
            "number": None, "year": None, "sequence": None,
            "issue_date": issue_date,
            **billing_block(client),  # the block a document made in the admin copies
            "notes": REVERSE_CHARGE_NOTE if client["country"] != "IT" else "",
            "terms": self.company.default_terms,
            "subtotal": totals.subtotal,
            "tax_total": totals.tax_total,
            "total": totals.total,
            "sent_at": None,
            "emailed_at": None,
            "viewed_at": None,
            "created_at": created,
            "updated_at": created,
            "_lines": lines,
            "_events": [],
        }

    def _at(self, day: dt.date) -> dt.datetime:
        return dt.datetime.combine(day, dt.time(self.rng.randint(8, 18), self.rng.randint(0, 59)))

    def _days_ago(self, low: int, high: int) -> dt.date:
        return self.today - dt.timedelta(days=self.rng.randint(low, high))

    def _invoice(self, client: dict) -> dict:
        """An invoice in a scenario; the first few of a run cover every status, then by weight."""
        rng = self.rng
        if self.invoice_count < len(INVOICE_SCENARIOS):
            scenario = INVOICE_SCENARIOS[self.invoice_count]
        else:
            scenario = rng.choices(INVOICE_SCENARIOS, INVOICE_WEIGHTS)[0]
        self.invoice_count += 1
        terms = rng.choice((30, 30, 30, 60))
        issue = {
            "draft": lambda: self._days_ago(0, 10),
            "sent": lambda: self._days_ago(0, terms - 1),
            "overdue": lambda: self._days_ago(terms + 1, 240),
            "partial": lambda: self._days_ago(0, 240),
            "paid": lambda: self._days_ago(0, 540),
            "cancelled": lambda: self._days_ago(0, 400),
        }[scenario]()
        invoice = self._document(client, issue, self._lines(client), invoice=True)
        invoice["due_date"] = issue + dt.timedelta(days=terms)
        invoice["status"] = {"overdue": InvoiceStatus.SENT.value}.get(scenario, scenario)
        invoice["quote_id"] = None
        invoice["_events"].append(("invoice_created", invoice["created_at"], {}))
        if scenario != "draft":
            sent = invoice["created_at"] + dt.timedelta(minutes=rng.randint(5, 240))
            invoice["sent_at"] = invoice["emailed_at"] = sent  # the demo's documents were emailed
            invoice["_events"].append(("invoice_sent", invoice["sent_at"], {"number": None}))
            if rng.random() < 0.4:
                invoice["viewed_at"] = invoice["sent_at"] + dt.timedelta(hours=rng.randint(1, 72))
        invoice["_payments"] = self._payments(invoice, scenario)
        paid = sum((p["amount"] for p in invoice["_payments"]), ZERO)
        invoice["amount_paid"] = paid
        invoice["balance"] = balance_of(invoice["net_to_pay"], paid)
        # History as the periodic mark-overdue task would have left it.
        invoice["overdue_marked"] = (invoice["status"] in OPEN_INVOICE_STATUSES
                                     and invoice["due_date"] < self.today)
        if scenario == "cancelled":
            when = self._at(min(self.today, issue + dt.timedelta(days=rng.randint(1, 20))))
            invoice["_events"].append(("invoice_cancelled", max(when, invoice["sent_at"]), {"number": None}))
        return invoice

    def _payments(self, invoice: dict, scenario: str) -> list[dict]:
        rng, total = self.rng, invoice["net_to_pay"]
        if scenario == "paid":
            if rng.random() < 0.25 and total >= Decimal("2.00"):
                first = round_cents(total * Decimal(rng.randint(30, 70)) / 100)
                amounts = [first, total - first]
            else:
                amounts = [total]
        elif scenario == "partial":
            amounts = [max(Decimal("0.01"), round_cents(total * Decimal(rng.randint(20, 80)) / 100))]
            # The status the payments leave, as recording them would (one cent cannot be part-paid).
            paid = sum(amounts, ZERO)
            invoice["status"] = status_after_payments(invoice["status"], total, paid, balance_of(total, paid))
        else:
            return []
        latest = min(self.today, invoice["due_date"] + dt.timedelta(days=20))
        day = invoice["issue_date"]
        payments = []
        for index, amount in enumerate(amounts):
            day = min(latest, day + dt.timedelta(days=rng.randint(1, 30)))
            method = rng.choices(
                (PaymentMethod.BANK_TRANSFER.value, PaymentMethod.CASH.value, PaymentMethod.OTHER.value), (80, 8, 12)
            )[0]
            reference = {
                PaymentMethod.BANK_TRANSFER.value: f"CRO {rng.randint(10**10, 10**11 - 1)}",
                PaymentMethod.CASH.value: "",
                PaymentMethod.OTHER.value: f"Assegno n. {rng.randint(1_000_000, 9_999_999)}",
            }[method]
            payments.append({"amount": amount, "date": day, "method": method, "reference": reference,
                             "stripe_payment_intent": None})
            when = max(self._at(day), invoice["sent_at"])
            invoice["_events"].append(("payment_recorded", when, {"number": None, "amount": amount}))
            if invoice["status"] == InvoiceStatus.PAID.value and index == len(amounts) - 1:
                invoice["_events"].append(("invoice_paid", when, {"number": None}))
        return payments

    def _quote(self, client: dict, invoices: list[dict]) -> dict:
        """A quote; an accepted one is converted into one of the client's invoices when one is free."""
        rng = self.rng
        if self.quote_count < len(QUOTE_STATUSES):
            status = QUOTE_STATUSES[self.quote_count]
        else:
            status = rng.choices(QUOTE_STATUSES, QUOTE_WEIGHTS)[0]
        self.quote_count += 1
        target = None
        if status == QuoteStatus.ACCEPTED.value:
            target = next((i for i in invoices if not i.get("_quote") and i["issue_date"] > self.today - dt.timedelta(days=500)), None)
        if target is not None:
            issue = target["issue_date"] - dt.timedelta(days=rng.randint(5, 25))
            lines = list(target["_lines"])
        else:
            issue = {
                "draft": lambda: self._days_ago(0, 10),
                "sent": lambda: self._days_ago(0, 25),
                "accepted": lambda: self._days_ago(1, 300),
                "rejected": lambda: self._days_ago(1, 300),
                "expired": lambda: self._days_ago(45, 400),
            }[status]()
            lines = self._lines(client)
        quote = self._document(client, issue, lines)
        quote["status"] = status
        quote["valid_until"] = issue + dt.timedelta(days=30)
        quote["decided_at"] = None
        quote["decision_reason"] = ""
        quote["_events"].append(("quote_created", quote["created_at"], {}))
        if status == "draft":
            return quote
        quote["sent_at"] = quote["emailed_at"] = quote["created_at"] + dt.timedelta(minutes=rng.randint(5, 240))
        quote["_events"].append(("quote_sent", quote["sent_at"], {"number": None}))
        if status in ("accepted", "rejected"):
            latest = min(self.today, quote["valid_until"])
            if target is not None:
                latest = min(latest, target["issue_date"])
            decided = self._at(min(latest, issue + dt.timedelta(days=rng.randint(1, 10))))
            quote["decided_at"] = max(decided, quote["sent_at"])
            if status == "rejected":
                quote["decision_reason"] = rng.choice(("Budget non disponibile quest'anno.",
                                                       "Abbiamo scelto un altro fornitore.", ""))
            quote["_events"].append((f"quote_{status}", quote["decided_at"], {"number": None}))
        if status == "expired":
            quote["_events"].append(("quote_expired", self._at(quote["valid_until"] + dt.timedelta(days=1)),
                                     {"number": None}))
        if target is not None:
            target["_quote"] = quote
            target["_events"].append(("quote_converted", target["created_at"], {"number": None, "_quote": quote}))
        return quote

    def _event(self, kind: str, document: dict, when: dt.datetime, **params: object) -> dict:
        """A timeline row; `number` is filled from the document now that numbers are given."""
        quote = params.pop("_quote", None)
        if kind == "client_created":
            client_id, invoice_id, quote_id = document["id"], None, None
        elif "due_date" in document:
            client_id, invoice_id, quote_id = document["client_id"], document["id"], quote["id"] if quote else None
        else:
            client_id, invoice_id, quote_id = document["client_id"], None, document["id"]
        if "number" in params:
            params["number"] = (quote or document)["number"] or ""
        return {
            "client_id": client_id,
            "kind": kind,
            "params": {key: str(value) for key, value in params.items()},
            "invoice_id": invoice_id,
            "quote_id": quote_id,
            "actor": "",
            "created_at": when,
        }
