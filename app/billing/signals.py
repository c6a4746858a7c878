"""Signals other modules subscribe to, so billing rules need not know who listens."""
from blinker import Namespace

_signals = Namespace()

# Sent by record_payment with the new Payment as sender, inside the caller's transaction.
payment_recorded = _signals.signal("payment-recorded")

# Sent by finalize_invoice / finalize_credit_note with the document as sender, inside the
# transaction, after its tax blocks and totals are fixed and BEFORE it takes a number: a
# receiver may raise app.errors.Refusal to refuse the finalization (app.einvoice runs the
# checks SdI would run here), and nothing is numbered.
document_finalizing = _signals.signal("document-finalizing")

# Sent by finalize_invoice / finalize_quote / finalize_credit_note with the document as sender,
# inside the transaction, once it has its number (again after a correction: reopen_for_correction).
document_finalized = _signals.signal("document-finalized")

# Sent by the admin's "Send by email" and the API's `/send` with the document as sender and
# `contact_ids` (None: the client's primary contact). The mail capability sends (a draft is
# finalized on the way); a receiver's Refusal reaches the caller, which changes nothing.
send_requested = _signals.signal("document-send-requested")
