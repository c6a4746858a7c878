"""Electronic invoicing for Italy: the FatturaPA 1.2.3 file of each finalized invoice and
credit note, SdI's content checks before a number is taken, and SdI's receipts.

Billing calls nobody: this package connects to billing's signals (`init_app`) and tells the
packages above it (mail, for the PEC channel) through its own (app.einvoice.signals).
"""
