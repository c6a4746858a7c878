"""Emails leave through a real SMTP server (aiosmtpd on loopback), exactly once each."""
from __future__ import annotations

import datetime as dt
import re

import pytest
from redis import Redis
from rq import Queue, SimpleWorker
from sqlalchemy import func, select

from app.billing import services as billing
from app.billing.models import Invoice
from app.extensions import db
from app.mail import services as mail
from app.mail.models import OutboxEmail, OutboxStatus
from app.mail.reminders import send_reminders
from app.portal.models import PortalToken
from app.portal.tokens import hash_token
from tests.support.factories import make_client, make_invoice, make_quote

REDIS_URL = "redis://127.0.0.1:6379/6"
LINK = re.compile(r"http://clientela\.test/portal/auth/[A-Za-z0-9_-]+")


def _outbox() -> list[OutboxEmail]:
    db.session.expire_all()
    return db.session.scalars(select(OutboxEmail).order_by(OutboxEmail.id)).all()


def _parts(message):
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    attachments = list(message.iter_attachments())
    return text, html, attachments


def test_an_emailed_invoice_arrives_in_the_clients_language_with_pdf_and_magic_link(smtp_server):
    client = make_client("Acme <b>Ltd</b>", language="en", email="anna@acme.example",
                         contacts=[{"name": "Anna", "email": "anna@acme.example"}])
    invoice = make_invoice(client)
    mail.send_document(invoice)
    db.session.commit()

    [message] = smtp_server.messages
    assert message["To"] == "anna@acme.example"
    assert message["Subject"].startswith(f"Invoice {invoice.number} from ")
    text, html, attachments = _parts(message)
    assert text.startswith("Dear Anna,")
    assert "€122.00" in text
    [pdf] = attachments
    assert pdf.get_content_type() == "application/pdf"
    assert pdf.get_filename().endswith(".pdf")
    assert pdf.get_content().startswith(b"%PDF")

    [link] = LINK.findall(text)
    token = db.session.scalar(select(PortalToken).filter_by(token_hash=hash_token(link.rsplit("/", 1)[1])))
    assert token.contact_id == client.contacts[0].id
    assert token.target == f"/portal/invoices/{invoice.id}"
    assert f'<a href="{link}">' in html

    db.session.expire_all()
    assert db.session.get(Invoice, invoice.id).status == "sent"
    [email] = _outbox()
    assert (email.status, email.invoice_id, email.client_id) == ("sent", invoice.id, client.id)


def test_an_italian_client_reads_italian_and_values_are_escaped_in_html(smtp_server):
    client = make_client("Rossi <script>alert(1)</script> S.r.l.", language="it",
                         contacts=[{"name": "Mario <i>Rossi</i>", "email": "mario@rossi.example"}])
    quote = make_quote(client)
    mail.send_document(quote)
    db.session.commit()

    [message] = smtp_server.messages
    assert message["Subject"].startswith(f"Preventivo {quote.number} da ")
    text, html, attachments = _parts(message)
    assert text.startswith("Gentile Mario <i>Rossi</i>,")
    assert "122,00\xa0€" in text
    assert "<i>Rossi</i>" not in html and "Mario &lt;i&gt;Rossi&lt;/i&gt;" in html
    assert len(attachments) == 1


def test_chosen_contacts_each_get_their_own_email_and_link(smtp_server):
    client = make_client(contacts=[{"name": "Uno", "email": "uno@example.it"},
                                   {"name": "Due", "email": "due@example.it"}])
    invoice = make_invoice(client)
    mail.send_document(invoice, contact_ids=[c.id for c in client.contacts])
    db.session.commit()

    assert sorted(m["To"] for m in smtp_server.messages) == ["due@example.it", "uno@example.it"]
    links = {LINK.search(_parts(m)[0]).group(0) for m in smtp_server.messages}
    assert len(links) == 2


def test_a_contact_of_another_client_is_refused_and_nothing_changes(smtp_server):
    client, stranger = make_client(), make_client()
    invoice = make_invoice(client)
    with pytest.raises(billing.BillingError) as refused:
        mail.send_document(invoice, contact_ids=[stranger.contacts[0].id])
    assert refused.value.field == "contact_ids"
    assert invoice.status == "draft" and _outbox() == []


def test_the_clients_override_wins_over_the_global_template(smtp_server):
    client = make_client(language="it")
    other = make_client(language="it")
    mail.save_global_template("invoice", "it", "GLOBALE {{ document_number }}", "Testo globale")
    mail.save_client_template(client, "invoice", "Solo per {{ client_name }}: {{ document_number }}",
                              "Ciao {{ contact_name }}, ecco {{ document_number }}.\n{{ portal_link }}")
    mine, theirs = make_invoice(client), make_invoice(other)
    mail.send_document(mine)
    mail.send_document(theirs)
    db.session.commit()

    [to_client] = smtp_server.to(client.contacts[0].email)
    assert to_client["Subject"] == f"Solo per {client.name}: {mine.number}"
    assert "Testo globale" not in _parts(to_client)[0]
    [to_other] = smtp_server.to(other.contacts[0].email)
    assert to_other["Subject"] == f"GLOBALE {theirs.number}"


def test_without_mail_server_the_email_is_recorded_with_clickable_links(app):
    assert not app.config["MAIL_SERVER"]
    invoice = make_invoice()
    mail.send_document(invoice)
    db.session.commit()

    [email] = _outbox()
    assert email.status == OutboxStatus.NOT_CONFIGURED.value
    assert "MAIL_SERVER" in email.error
    link = LINK.search(email.body_text).group(0)
    assert f'<a href="{link}">' in email.body_html


def test_an_smtp_outage_then_recovery_delivers_each_email_exactly_once_inline(smtp_server):
    smtp_server.stop()
    invoice = make_invoice()
    mail.send_document(invoice)
    db.session.commit()  # the inline job runs now and fails

    [email] = _outbox()
    assert email.status == "failed" and "Connection refused" in email.error
    failed_attempts = email.attempts
    assert db.session.get(Invoice, invoice.id).status == "sent"  # the document is sent; the email waits

    smtp_server.start()
    assert mail.deliver_email(email.id) == "sent"  # the retried job
    assert mail.deliver_email(email.id) == "skipped"  # a duplicate of it
    assert len(smtp_server.messages) == 1
    [email] = _outbox()
    assert (email.status, email.attempts, email.error) == ("sent", failed_attempts + 1, "")


@pytest.fixture
def redis_queue(app):
    redis = Redis.from_url(REDIS_URL)
    redis.flushdb()
    app.config["REDIS_URL"] = REDIS_URL
    yield Queue("clientela", connection=redis)
    app.config["REDIS_URL"] = ""
    redis.flushdb()


def _work(queue: Queue) -> None:
    SimpleWorker([queue], connection=queue.connection).work(burst=True)


def test_with_redis_a_worker_sends_once_even_when_the_job_runs_twice(smtp_server, redis_queue):
    invoice = make_invoice()
    mail.send_document(invoice)
    db.session.commit()
    assert smtp_server.messages == []  # queued, not sent by the request

    [email] = _outbox()
    redis_queue.enqueue(mail.deliver_email, email.id)  # a duplicate job for the same email
    _work(redis_queue)

    assert len(smtp_server.messages) == 1
    assert _outbox()[0].status == "sent"


def test_with_redis_an_outage_then_a_retry_delivers_exactly_once(smtp_server, redis_queue):
    smtp_server.stop()
    mail.send_document(make_invoice())
    db.session.commit()
    _work(redis_queue)
    [email] = _outbox()
    assert email.status == "failed"

    smtp_server.start()
    redis_queue.enqueue(mail.deliver_email, email.id)  # what RQ's retry runs
    redis_queue.enqueue(mail.deliver_email, email.id)
    _work(redis_queue)
    assert len(smtp_server.messages) == 1
    assert _outbox()[0].status == "sent"


def test_a_crashed_workers_email_is_retried_after_the_timeout_and_sent_once(smtp_server, app):
    mail.send_document(make_invoice())
    db.session.commit()
    smtp_server.messages.clear()
    [email] = _outbox()
    # As a worker killed between claiming the row and sending it would leave it:
    email.status, email.claimed_at = "sending", dt.datetime.utcnow() - dt.timedelta(minutes=1)
    db.session.commit()

    assert mail.deliver_email(email.id) == "skipped"  # within the timeout: maybe still sending
    email.claimed_at = dt.datetime.utcnow() - dt.timedelta(hours=1)
    db.session.commit()
    assert mail.requeue_stale_emails() == 1
    db.session.commit()  # the sweep's jobs start once it commits
    assert len(smtp_server.messages) == 1
    assert _outbox()[0].status == "sent"


def test_every_recorded_payment_sends_one_receipt(smtp_server):
    client = make_client(language="en")
    invoice = make_invoice(client, finalize=True)
    db.session.commit()
    billing.record_payment(invoice, amount="22.00", method="bank_transfer")
    db.session.commit()

    [receipt] = smtp_server.messages
    assert receipt["Subject"] == f"Payment received for invoice {invoice.number}"
    assert "€22.00" in _parts(receipt)[0] and "Balance due: €100.00" in _parts(receipt)[0]

    mail.send_payment_receipt(invoice.payments[0])  # asked again: same idempotency key
    db.session.commit()
    assert len(smtp_server.messages) == 1


def test_the_portal_login_link_and_staff_notifications_are_sent(smtp_server):
    from app.company.services import get_company

    get_company().support_email = "support@azienda.example"
    client = make_client(language="en")
    contact = client.contacts[0]
    mail.send_portal_login_link(contact, "http://clientela.test/portal/auth/abc")
    mail.notify_staff("new_ticket", client, {"contact": contact, "ticket_subject": "Help",
                                             "ticket_message": "Where is my invoice?"})
    db.session.commit()

    [login] = smtp_server.to(contact.email)
    assert "http://clientela.test/portal/auth/abc" in _parts(login)[0]
    [staff] = smtp_server.to("support@azienda.example")
    assert staff["Subject"] == f"Nuova richiesta da {client.name}: Help"  # the company's language


def test_overdue_reminders_go_once_per_step(smtp_server):
    today = dt.date.today()
    invoice = make_invoice(issue_date=today - dt.timedelta(days=60), due_date=today - dt.timedelta(days=16),
                           finalize=True)
    paid = make_invoice(issue_date=today - dt.timedelta(days=60), due_date=today - dt.timedelta(days=16),
                        finalize=True)
    billing.record_payment(paid, amount=paid.balance)
    db.session.commit()
    smtp_server.messages.clear()

    assert send_reminders(today) == 1  # step 15 reached (3 is skipped: one reminder, not two)
    assert send_reminders(today) == 0
    assert send_reminders(today + dt.timedelta(days=5)) == 0
    assert send_reminders(today + dt.timedelta(days=14)) == 1  # 30 days overdue
    subjects = [m["Subject"] for m in smtp_server.messages]
    assert subjects == [f"Promemoria: fattura {invoice.number} scaduta"] * 2
    assert all(_parts(m)[2] for m in smtp_server.messages)  # the PDF is attached
    count = db.session.scalar(select(func.count()).select_from(OutboxEmail).where(OutboxEmail.kind == "reminder"))
    assert count == 2


def test_the_daily_command_uses_the_configured_steps(app, smtp_server):
    today = dt.date.today()
    make_invoice(issue_date=today - dt.timedelta(days=10), due_date=today - dt.timedelta(days=2), finalize=True)
    db.session.commit()
    runner = app.test_cli_runner()
    assert "Queued 0 reminder(s)." in runner.invoke(args=["clientela", "send-reminders"]).output  # 3 not reached

    app.config["REMINDER_DAYS"] = "1, 7"
    try:
        assert "Queued 1 reminder(s)." in runner.invoke(args=["clientela", "send-reminders"]).output
        assert "Queued 0 reminder(s)." in runner.invoke(args=["clientela", "send-reminders"]).output
    finally:
        app.config["REMINDER_DAYS"] = "3,15,30"
    assert len(smtp_server.messages) == 1
