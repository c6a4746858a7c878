"""What einvoice tells the packages above it (connected in their init_app)."""
from blinker import Namespace

_signals = Namespace()

# Sent with the new EInvoiceFile as sender (and `document=`), inside the transaction that
# stored it, when the company's channel is "pec": app.mail queues it to SdI's PEC address.
einvoice_file_issued = _signals.signal("einvoice-file-issued")
