"""Realistic Italian demo data (`clientela demo`), fast enough for 10,000 clients × 20 invoices.

Rows are built in Python and written with bulk INSERTs, a batch of clients at a time. Each
batch is one transaction that also takes its block of invoice and quote numbers from
`app.billing.numbering`, so numbering stays gapless and running the command again simply
continues it. Amounts go through `app.billing.totals`, the same rule the admin uses, and
client fields through `clean_client_fields`, so demo rows are rows the app could have made.

Every email address uses the reserved `.example` top-level domain: a demo database wired
to a real mail server still reaches nobody.

Each finalized invoice gets its FatturaPA file through `app.einvoice.services.issue_file`,
the function finalization calls, when the company can issue e-invoices (not when it sends
them by PEC: demo files must never reach SdI). The files are the slow part of a big demo,
about 12 ms each on SQLite, so the progress shows their cost and `einvoices=False` skips
them (docs/einvoice.md, "Demo data").

The package: `data` holds the names, places and services the rows are made of, `identifiers`
makes valid Partita IVA, codici fiscali and EU VAT numbers, and `generator` builds and writes
the rows (`create_demo_data`).
"""
from app.demo.generator import DemoSummary, create_demo_data

__all__ = ["DemoSummary", "create_demo_data"]
