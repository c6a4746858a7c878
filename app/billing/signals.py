"""Signals other modules subscribe to, so billing rules need not know who listens."""
from blinker import Namespace

_signals = Namespace()

# Sent by record_payment with the new Payment as sender, inside the caller's transaction.
payment_recorded = _signals.signal("payment-recorded")

# Sent by finalize_invoice / finalize_quote with the document as sender, inside the transaction.
document_finalized = _signals.signal("document-finalized")
