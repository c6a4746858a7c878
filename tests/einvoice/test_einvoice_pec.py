"""The PEC channel against real servers on loopback: the file leaves through the outbox to a
real SMTP server (aiosmtpd), once; SdI's receipts are read from a real IMAP server over TLS
(Debian's dovecot, started here with its own configuration, certificate and user)."""
from __future__ import annotations

import imaplib
import os
import shutil
import ssl
import subprocess
import tempfile
import time
from email.message import EmailMessage
from pathlib import Path

import pytest

from app.billing import services as billing
from app.einvoice.models import EInvoiceProgressive
from app.einvoice.schema import schema_errors
from app.einvoice import services as einvoice
from app.extensions import db
from app.mail import pec
from app.mail.models import OutboxEmail
from app.mail.outbox import deliver_email
from app.einvoice.periodic import poll_sdi_receipts_job
from app.periodic import tasks
from tests.support.factories import make_client, make_invoice
from tests.support.smtp import SmtpServer, smtp_server  # noqa: F401  (the fixture)
from tests.support.einvoice import SAMPLE_PROGRESSIVE, italian_company, sample

PEC_SMTP_PORT = 5126
IMAPS_PORT = 5127
DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
PEC_USER, PEC_PASSWORD = "fatture@pec.studio.it", "pec-secret"


@pytest.fixture
def pec_smtp(app):
    server = SmtpServer(port=PEC_SMTP_PORT)
    server.start()
    saved = {key: app.config.get(key) for key in ("PEC_ADDRESS", "PEC_SMTP_SERVER", "PEC_SMTP_PORT",
                                                  "PEC_USE_SSL", "PEC_USE_TLS")}
    app.config.update(PEC_ADDRESS=PEC_USER, PEC_SMTP_SERVER=server.host, PEC_SMTP_PORT=server.port,
                      PEC_USE_SSL=False, PEC_USE_TLS=False)
    yield server
    server.stop()
    app.config.update(saved)


def finalized_on_pec():
    italian_company(einvoice_channel="pec", sdi_pec_address="sdi01@pec.fatturapa.it")
    invoice = make_invoice(make_client())
    billing.finalize_invoice(invoice)
    db.session.commit()  # the outbox job runs once the transaction commits (inline, no Redis here)
    return invoice


def test_a_finalized_invoice_leaves_by_pec_once_then_is_sent(pec_smtp):
    invoice = finalized_on_pec()
    [message] = pec_smtp.messages
    assert pec_smtp.envelopes == [(PEC_USER, ["sdi01@pec.fatturapa.it"])]
    [attachment] = list(message.iter_attachments())
    assert attachment.get_filename() == invoice.sdi_file_name
    assert attachment.get_content_type() == "application/xml"
    assert attachment.get_content() == einvoice.current_file(invoice).content
    assert schema_errors(attachment.get_content()) == []
    db.session.expire_all()
    assert db.session.get(type(invoice), invoice.id).sdi_status == "sent"

    [row] = db.session.query(OutboxEmail).filter_by(kind=pec.PEC_KIND).all()
    assert pec.queue_file(einvoice.current_file(invoice)).id == row.id  # asking again queues nothing
    assert deliver_email(row.id) == "skipped"  # a retried job sends nothing twice
    assert len(pec_smtp.messages) == 1


def test_a_failed_pec_send_is_retried_like_any_outbox_row(pec_smtp):
    pec_smtp.stop()
    finalized_on_pec()  # the inline job tries, fails and leaves the row for the retry task
    [row] = db.session.query(OutboxEmail).filter_by(kind=pec.PEC_KIND).all()
    assert row.status == "failed"
    pec_smtp.start()
    assert deliver_email(row.id) == "sent"
    assert len(pec_smtp.messages) == 1


def test_without_a_pec_server_the_file_leaves_through_mail_server(app, smtp_server):  # noqa: F811
    app.config.update(PEC_SMTP_SERVER="", PEC_ADDRESS="fatture@pec.studio.it")
    invoice = finalized_on_pec()
    [message] = smtp_server.to("sdi01@pec.fatturapa.it")
    assert [a.get_filename() for a in message.iter_attachments()] == [invoice.sdi_file_name]


def test_the_export_channel_sends_nothing(pec_smtp):
    italian_company(einvoice_channel="export")
    billing.finalize_invoice(make_invoice(make_client()))
    db.session.commit()
    assert pec_smtp.messages == [] and db.session.query(OutboxEmail).filter_by(kind=pec.PEC_KIND).count() == 0


# ── Receipts from the PEC mailbox ──────────────────────────────────────────────────────────

class Dovecot:
    """Debian's dovecot on a loopback port: IMAPS only, a self-signed certificate, one
    passwd-file user, maildir storage, all under a temporary directory."""

    def __init__(self, root: Path, port: int):
        self.root, self.port = root, port
        self.cert = root / "cert.pem"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        if not os.path.exists(DOVECOT):
            pytest.fail("dovecot is not installed: the PEC receipt tests need Debian's dovecot-imapd "
                        "(apt-get install -y dovecot-imapd openssl)")
        root = self.root
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                        "-keyout", str(root / "key.pem"), "-out", str(self.cert), "-subj", "/CN=localhost",
                        "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"], check=True, capture_output=True)
        (root / "passwd").write_text(f"{PEC_USER}:{{PLAIN}}{PEC_PASSWORD}::::\n")
        (root / "home").mkdir()
        if os.geteuid() == 0:  # dovecot refuses to run its login and mail processes as root
            login_user, internal_user, mail_user = "dovenull", "dovecot", "dovecot"
            shutil.chown(root / "home", "dovecot", "dovecot")
            root.chmod(0o755)
        else:
            login_user = internal_user = mail_user = os.environ.get("USER") or subprocess.check_output(
                ["id", "-un"], text=True).strip()
        uid = subprocess.check_output(["id", "-u", mail_user], text=True).strip()
        group = subprocess.check_output(["id", "-gn", mail_user], text=True).strip()
        (root / "dovecot.conf").write_text(f"""
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = required
ssl_cert = <{self.cert}
ssl_key = <{root}/key.pem
auth_mechanisms = plain
disable_plaintext_auth = no
default_login_user = {login_user}
default_internal_user = {internal_user}
default_internal_group = {group}
first_valid_uid = {uid}
mail_location = maildir:{root}/home/%u/Maildir
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = static
  args = uid={mail_user} gid={group} home={root}/home/%u
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    port = 0
  }}
  inet_listener imaps {{
    port = {self.port}
    ssl = yes
  }}
}}
service anvil {{
  chroot =
}}
""")
        self.process = subprocess.Popen([DOVECOT, "-F", "-c", str(root / "dovecot.conf")],
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                self.client().logout()
                return
            except (OSError, imaplib.IMAP4.error):
                time.sleep(0.2)
        self.stop()
        pytest.fail(f"dovecot did not start: {(root / 'dovecot.log').read_text() if (root / 'dovecot.log').exists() else ''}")

    def client(self) -> imaplib.IMAP4_SSL:
        context = ssl.create_default_context(cafile=str(self.cert))
        client = imaplib.IMAP4_SSL("localhost", self.port, ssl_context=context, timeout=5)
        client.login(PEC_USER, PEC_PASSWORD)
        return client

    def deliver(self, message: EmailMessage) -> None:
        client = self.client()
        client.append("INBOX", None, None, message.as_bytes())
        client.logout()

    def unseen(self) -> int:
        client = self.client()
        client.select("INBOX")
        _status, data = client.uid("search", None, "UNSEEN")
        client.logout()
        return len((data[0] or b"").split())

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


@pytest.fixture
def mailbox(app, monkeypatch):
    # Not under pytest's tmp_path: dovecot's unprivileged processes must reach the files.
    root = Path(tempfile.mkdtemp(prefix="clientela-dovecot-"))
    server = Dovecot(root, IMAPS_PORT)
    server.start()
    # The app verifies the server's certificate with the system's trust store: trust ours.
    monkeypatch.setenv("SSL_CERT_FILE", str(server.cert))
    saved = {key: app.config.get(key) for key in ("PEC_IMAP_SERVER", "PEC_IMAP_PORT", "PEC_IMAP_SSL",
                                                  "PEC_USERNAME", "PEC_PASSWORD")}
    app.config.update(PEC_IMAP_SERVER="localhost", PEC_IMAP_PORT=IMAPS_PORT, PEC_IMAP_SSL=True,
                      PEC_USERNAME=PEC_USER, PEC_PASSWORD=PEC_PASSWORD)
    yield server
    server.stop()
    app.config.update(saved)
    shutil.rmtree(root, ignore_errors=True)


def pec_message(subject: str, attachment: bytes | None, filename: str = "") -> EmailMessage:
    message = EmailMessage()
    message["From"] = "sdi01@pec.fatturapa.it"
    message["To"] = PEC_USER
    message["Subject"] = subject
    message.set_content("Messaggio di posta certificata")
    if attachment is not None:
        message.add_attachment(attachment, maintype="application", subtype="xml", filename=filename)
    return message


def test_the_periodic_task_reads_receipts_from_the_pec_mailbox(mailbox):
    assert "sdi-receipts" in [task.name for task in tasks()]
    italian_company(einvoice_channel="export")
    db.session.add(EInvoiceProgressive(id=1, last_value=SAMPLE_PROGRESSIVE - 1))
    invoice = make_invoice(make_client())
    billing.finalize_invoice(invoice)
    db.session.commit()
    mailbox.deliver(pec_message("POSTA CERTIFICATA: Ricevuta di consegna", sample("RC"),
                                "IT01234567890_11111_RC_001.xml"))
    mailbox.deliver(pec_message("POSTA CERTIFICATA: accettazione", None))  # the provider's own notice
    mailbox.deliver(pec_message("Altro", b"<!DOCTYPE x [<!ENTITY e SYSTEM 'file:///etc/passwd'>]><x>&e;</x>",
                                "evil.xml"))

    poll_sdi_receipts_job()
    db.session.expire_all()
    assert db.session.get(type(invoice), invoice.id).sdi_status == "delivered"
    assert mailbox.unseen() == 0  # every message handled, the refused one too

    mailbox.deliver(pec_message("POSTA CERTIFICATA: Notifica esito", sample("NE"), "IT01234567890_11111_NE_001.xml"))
    poll_sdi_receipts_job()
    db.session.expire_all()
    assert db.session.get(type(invoice), invoice.id).sdi_status == "accepted"
