"""Emails leave through a real SMTP server (aiosmtpd on loopback), exactly once each."""
from __future__ import annotations

import datetime as dt
import os
import re
import threading
import time

import pytest
from redis import Redis
from rq import Queue, SimpleWorker
from sqlalchemy import func, select

from app.billing import services as billing
from app.billing.models import Invoice
from app.extensions import db
from app.mail import notifications, outbox, templating
from app.mail.models import OutboxEmail, OutboxStatus
from app.mail.reminders import send_reminders
from app.portal.models import PortalToken
from app.portal.tokens import hash_token
from tests.support.factories import make_client, make_invoice, make_quote

REDIS_URL = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/6"  # flushed: use your own
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
    notifications.send_document(invoice)
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
    notifications.send_document(quote)
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
    notifications.send_document(invoice, contact_ids=[c.id for c in client.contacts])
    db.session.commit()

    assert sorted(m["To"] for m in smtp_server.messages) == ["due@example.it", "uno@example.it"]
    links = {LINK.search(_parts(m)[0]).group(0) for m in smtp_server.messages}
    assert len(links) == 2


def test_a_contact_of_another_client_is_refused_and_nothing_changes(smtp_server):
    client, stranger = make_client(), make_client()
    invoice = make_invoice(client)
    with pytest.raises(billing.BillingError) as refused:
        notifications.send_document(invoice, contact_ids=[stranger.contacts[0].id])
    assert refused.value.field == "contact_ids"
    assert invoice.status == "draft" and _outbox() == []


def test_the_clients_override_wins_over_the_global_template(smtp_server):
    client = make_client(language="it")
    other = make_client(language="it")
    templating.save_global_template("invoice", "it", "GLOBALE {{ document_number }}", "Testo globale")
    templating.save_client_template(client, "invoice", "Solo per {{ client_name }}: {{ document_number }}",
                              "Ciao {{ contact_name }}, ecco {{ document_number }}.\n{{ portal_link }}")
    mine, theirs = make_invoice(client), make_invoice(other)
    notifications.send_document(mine)
    notifications.send_document(theirs)
    db.session.commit()

    [to_client] = smtp_server.to(client.contacts[0].email)
    assert to_client["Subject"] == f"Solo per {client.name}: {mine.number}"
    assert "Testo globale" not in _parts(to_client)[0]
    [to_other] = smtp_server.to(other.contacts[0].email)
    assert to_other["Subject"] == f"GLOBALE {theirs.number}"


def test_without_mail_server_the_email_is_recorded_with_clickable_links(app):
    assert not app.config["MAIL_SERVER"]
    invoice = make_invoice()
    notifications.send_document(invoice)
    db.session.commit()

    [email] = _outbox()
    assert email.status == OutboxStatus.NOT_CONFIGURED.value
    assert "MAIL_SERVER" in email.error
    link = LINK.search(email.body_text).group(0)
    assert f'<a href="{link}">' in email.body_html


def test_an_smtp_outage_then_recovery_delivers_each_email_exactly_once_inline(smtp_server):
    smtp_server.stop()
    invoice = make_invoice()
    notifications.send_document(invoice)
    db.session.commit()  # the inline job runs now and fails

    [email] = _outbox()
    assert email.status == "failed" and "Connection refused" in email.error
    failed_attempts = email.attempts
    assert db.session.get(Invoice, invoice.id).status == "sent"  # the document is sent; the email waits

    smtp_server.start()
    assert outbox.deliver_email(email.id) == "sent"  # the retried job
    assert outbox.deliver_email(email.id) == "skipped"  # a duplicate of it
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
    notifications.send_document(invoice)
    db.session.commit()
    assert smtp_server.messages == []  # queued, not sent by the request

    [email] = _outbox()
    redis_queue.enqueue(outbox.deliver_email, email.id)  # a duplicate job for the same email
    _work(redis_queue)

    assert len(smtp_server.messages) == 1
    assert _outbox()[0].status == "sent"


def test_with_redis_an_outage_then_a_retry_delivers_exactly_once(smtp_server, redis_queue):
    smtp_server.stop()
    notifications.send_document(make_invoice())
    db.session.commit()
    _work(redis_queue)
    [email] = _outbox()
    assert email.status == "failed"

    smtp_server.start()
    redis_queue.enqueue(outbox.deliver_email, email.id)  # what RQ's retry runs
    redis_queue.enqueue(outbox.deliver_email, email.id)
    _work(redis_queue)
    assert len(smtp_server.messages) == 1
    assert _outbox()[0].status == "sent"


def _as_left_by_a_killed_worker(email: OutboxEmail, claimed_ago: dt.timedelta) -> None:
    """The row as a worker killed after claiming it leaves it: "sending", nobody renewing."""
    email.status, email.claimed_at = "sending", dt.datetime.utcnow() - claimed_ago
    db.session.commit()


def test_a_killed_workers_email_is_taken_up_once_its_lease_lapses_and_sent_once(smtp_server, app):
    notifications.send_document(make_invoice())
    db.session.commit()
    smtp_server.messages.clear()
    [email] = _outbox()
    lease = outbox.sending_lease()
    assert lease <= dt.timedelta(seconds=30), "a dead worker's email waits seconds, not minutes"

    _as_left_by_a_killed_worker(email, lease / 2)
    assert outbox.deliver_email(email.id) == "skipped"  # within the lease: its worker may be sending
    assert outbox.requeue_stale_emails() == 0

    _as_left_by_a_killed_worker(email, lease + dt.timedelta(seconds=1))
    assert outbox.requeue_stale_emails() == 1
    db.session.commit()  # the sweep's jobs start once it commits
    assert len(smtp_server.messages) == 1
    assert _outbox()[0].status == "sent"


class _SlowCollector:
    """An SMTP handler that takes `seconds` to accept each message."""

    def __init__(self, server, seconds: float):
        self.server, self.seconds = server, seconds

    async def handle_DATA(self, _server, _session, envelope):
        import asyncio
        import email as email_parser
        import email.policy

        await asyncio.sleep(self.seconds)
        with self.server.lock:
            self.server.messages.append(email_parser.message_from_bytes(envelope.content, policy=email.policy.default))
        return "250 Message accepted for delivery"


def test_the_heartbeat_keeps_a_long_send_its_workers_own(smtp_server, app, monkeypatch):
    """A send that outlasts the lease is still renewed by its worker: nobody else claims it."""
    from aiosmtpd.controller import Controller

    smtp_server.stop()
    controller = Controller(_SlowCollector(smtp_server, 2.0), hostname=smtp_server.host, port=smtp_server.port)
    controller.start()
    monkeypatch.setitem(app.config, "MAIL_SENDING_TIMEOUT", dt.timedelta(seconds=0.8))
    try:
        outbox.send_templated("portal_login", None, "rossi@example.com", {"portal_link": "x"})
        db.session.commit()  # the inline job sends it: 2 s at the server, 0.8 s lease
    finally:
        controller.stop()
    [email] = _outbox()
    assert email.status == "sent" and email.attempts == 1

    # And while it sends, a second worker's job for it is skipped: replay that concurrently.
    email.status, email.sent_at = "queued", None
    db.session.commit()
    controller = Controller(_SlowCollector(smtp_server, 2.0), hostname=smtp_server.host, port=smtp_server.port)
    controller.start()
    outcomes = []

    def second_worker():
        time.sleep(1.5)  # past the lease, well within the send
        with app.app_context():
            outcomes.append(outbox.deliver_email(email.id))

    thread = threading.Thread(target=second_worker)
    thread.start()
    try:
        assert outbox.deliver_email(email.id) == "sent"
    finally:
        thread.join()
        controller.stop()
    assert outcomes == ["skipped"]
    assert len(smtp_server.messages) == 2  # the first run, and this one: never a third


def test_every_attempt_sends_the_rows_message_id_written_before_sending(smtp_server, app):
    notifications.send_document(make_invoice())
    db.session.commit()
    [email] = _outbox()
    message_id = email.message_id
    assert re.fullmatch(r"<outbox\.[0-9a-f]{32}@[\w.-]+>", message_id)
    [first] = smtp_server.messages
    assert first["Message-ID"] == message_id

    # A worker killed after the server accepted it, before the row said "sent": sent again,
    # recognisably the same message.
    _as_left_by_a_killed_worker(email, outbox.sending_lease() + dt.timedelta(seconds=1))
    assert outbox.requeue_stale_emails() == 1
    db.session.commit()
    assert [m["Message-ID"] for m in smtp_server.messages] == [message_id, message_id]
    assert _outbox()[0].message_id == message_id


def test_a_failed_email_is_retried_by_the_sweep_after_its_backoff_and_at_once_by_the_command(smtp_server, app,
                                                                                                 monkeypatch):
    monkeypatch.setitem(app.config, "JOB_RETRY_INTERVALS", [60, 60])
    smtp_server.stop()
    notifications.send_document(make_invoice())
    db.session.commit()
    [email] = _outbox()
    assert (email.status, email.attempts) == ("failed", 1)
    smtp_server.start()

    assert outbox.requeue_stale_emails(every_failed=False) == 0, "its backoff is not over"
    email.claimed_at -= dt.timedelta(seconds=61)
    db.session.commit()
    assert outbox.requeue_stale_emails(every_failed=False) == 1
    db.session.commit()
    assert _outbox()[0].status == "sent" and len(smtp_server.messages) == 1

    # Past the last attempt of the schedule the sweep stops; the operator's command does not.
    smtp_server.stop()
    notifications.send_document(make_invoice())
    db.session.commit()
    failed = _outbox()[1]
    failed.attempts, failed.claimed_at = outbox.max_attempts(), dt.datetime.utcnow() - dt.timedelta(hours=1)
    db.session.commit()
    smtp_server.start()
    assert outbox.requeue_stale_emails(every_failed=False) == 0
    assert outbox.requeue_stale_emails() == 1  # `clientela retry-outbox`
    db.session.commit()
    assert _outbox()[1].status == "sent" and len(smtp_server.messages) == 2


def test_with_redis_a_queued_email_whose_job_was_lost_is_queued_again_once(smtp_server, redis_queue):
    notifications.send_document(make_invoice())
    db.session.commit()
    [email] = _outbox()
    email.created_at -= dt.timedelta(minutes=1)
    db.session.commit()
    assert outbox.requeue_stale_emails() == 0, "its job is waiting in the queue"

    # A web node killed between its commit and the enqueue: the row, and no job.
    Queue(redis_queue.name, connection=redis_queue.connection).empty()
    assert outbox.requeue_stale_emails() == 1
    db.session.commit()
    assert outbox.requeue_stale_emails() == 0, "the sweep's own job is waiting now"
    db.session.commit()
    _work(redis_queue)
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

    notifications.send_payment_receipt(invoice.payments[0])  # asked again: same idempotency key
    db.session.commit()
    assert len(smtp_server.messages) == 1


def test_the_portal_login_link_and_staff_notifications_are_sent(smtp_server):
    from app.company.services import get_company

    get_company().support_email = "support@azienda.example"
    client = make_client(language="en")
    contact = client.contacts[0]
    notifications.send_portal_login_link(contact, "http://clientela.test/portal/auth/abc")
    notifications.notify_staff("new_ticket", client, {"contact": contact, "ticket_subject": "Help",
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


def test_with_redis_an_email_sent_with_its_document_queues_no_render_job_of_its_own(smtp_server, redis_queue):
    """The email's job renders the PDF it attaches: a render job beside it would only race it."""
    invoice = make_invoice()
    notifications.send_document(invoice)
    db.session.commit()
    [email] = _outbox()
    assert redis_queue.get_job_ids() == [f"email-{email.id}"]
    _work(redis_queue)
    [message] = smtp_server.messages
    [attachment] = message.iter_attachments()
    assert attachment.get_content().startswith(b"%PDF-")


def test_with_redis_an_email_whose_pdf_another_worker_is_rendering_comes_back_later_without_failing(
        smtp_server, redis_queue, app):
    from app.jobs import RedisLease

    invoice = make_invoice()
    notifications.send_document(invoice)
    db.session.commit()
    [email] = _outbox()
    redis_queue.empty()
    rendering = RedisLease(f"pdf:invoice:{invoice.id}")  # another worker renders this PDF now
    assert rendering.acquire()

    assert outbox.deliver_email(email.id) == "queued"
    [email] = _outbox()
    assert (email.status, email.attempts, email.error) == ("queued", 0, ""), "not a failed attempt"
    [job_id] = redis_queue.get_job_ids()
    assert job_id.startswith(f"email-{email.id}-")

    rendering.release()  # (here it never stored its PDF: the email's job renders it)
    _work(redis_queue)
    [email] = _outbox()
    assert (email.status, email.attempts) == ("sent", 1)
    assert len(smtp_server.messages) == 1
