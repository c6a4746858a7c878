"""Signals of recurring invoices, so the rules need not know who listens (mail does)."""
from blinker import Namespace

_signals = Namespace()

# Sent by generate_due with the new Invoice as sender and `auto_send`, inside the transaction
# that made it: the mail module emails an auto-sent invoice (app.mail.notifications).
invoice_generated = _signals.signal("recurring-invoice-generated")
