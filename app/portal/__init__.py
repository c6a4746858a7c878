"""The client portal: magic-link sign-in, statement, invoices, quotes, bulk PDF download."""
