"""Signals about clients, for the capabilities above clients (which clients cannot import)."""
from blinker import Namespace

_signals = Namespace()

# Sent before staff delete a client, with the Client as sender: a receiver that raises a
# Refusal keeps the client (billing does while the client has invoices or quotes).
client_deleting = _signals.signal("client-deleting")
