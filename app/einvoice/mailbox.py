"""SdI's receipts from the PEC mailbox (the "pec" channel): IMAP over TLS, polled by a
periodic task. Each unread message's XML attachments are imported; a message is marked read
only after its receipts are committed, and importing one twice changes nothing, so a crash
in between costs nothing.
"""
from __future__ import annotations

import email
import imaplib
import logging
import ssl
from email.message import Message

from flask import current_app

from app.einvoice.receipts import MalformedReceipt
from app.einvoice.schema import UnsafeXml
from app.einvoice.services import UnknownFile, import_receipt
from app.extensions import db

log = logging.getLogger(__name__)
IMAP_TIMEOUT_SECONDS = 30


def configured() -> bool:
    return bool(current_app.config.get("PEC_IMAP_SERVER"))


def _connect() -> imaplib.IMAP4:
    config = current_app.config
    context = ssl.create_default_context()  # the server's certificate is verified
    if config.get("PEC_IMAP_SSL", True):
        client = imaplib.IMAP4_SSL(config["PEC_IMAP_SERVER"], int(config.get("PEC_IMAP_PORT") or 993),
                                   ssl_context=context, timeout=IMAP_TIMEOUT_SECONDS)
    else:
        client = imaplib.IMAP4(config["PEC_IMAP_SERVER"], int(config.get("PEC_IMAP_PORT") or 143),
                               timeout=IMAP_TIMEOUT_SECONDS)
        client.starttls(ssl_context=context)
    client.login(config.get("PEC_USERNAME") or "", config.get("PEC_PASSWORD") or "")
    return client


def _xml_parts(message: Message) -> list[bytes]:
    """The XML attachments of a message (a PEC envelope carries the original as message/rfc822:
    walk() descends into it)."""
    parts = []
    for part in message.walk():
        name = (part.get_filename() or "").lower()
        if name.endswith(".xml") or part.get_content_type() in ("application/xml", "text/xml"):
            payload = part.get_payload(decode=True)
            if payload:
                parts.append(payload)
    return parts


def poll_receipts() -> int:
    """Import every receipt in the unread messages of the inbox; returns how many changed or
    confirmed a file's state."""
    imported = 0
    client = _connect()
    try:
        client.select("INBOX")
        _status, data = client.uid("search", None, "UNSEEN")
        for uid in (data[0] or b"").split():
            _status, fetched = client.uid("fetch", uid, "(BODY.PEEK[])")
            raw = next((item[1] for item in fetched if isinstance(item, tuple)), b"")
            for content in _xml_parts(email.message_from_bytes(raw)):
                try:
                    import_receipt(content)
                    imported += 1
                except (MalformedReceipt, UnsafeXml, UnknownFile) as exc:
                    # Not ours or not a receipt (PEC providers also send their own notices).
                    log.info("PEC message %s: attachment skipped (%s)", uid.decode(), exc)
            db.session.commit()
            client.uid("store", uid, "+FLAGS", r"(\Seen)")
    finally:
        try:
            client.logout()
        except (imaplib.IMAP4.error, OSError):
            pass
    return imported
