"""The built-in global templates, in Italian and English.

They are data, not interface strings: staff edit them (Settings → Email templates), and an
edited one is stored as an `EmailTemplate` row that wins over these. Each is written in
its own language, so they do not go through the gettext catalogs.
"""
from __future__ import annotations

DEFAULT_TEMPLATES: dict[str, dict[str, tuple[str, str]]] = {
    "invoice": {
        "it": (
            "Fattura {{ document_number }} da {{ company_name }}",
            "Gentile {{ contact_name }},\n\n"
            "in allegato la fattura {{ document_number }} del {{ issue_date }} "
            "di {{ document_total }}, con scadenza il {{ due_date }}.\n\n"
            "Può consultarla e pagarla online qui:\n{{ portal_link }}\n\n"
            "Cordiali saluti,\n{{ company_name }}",
        ),
        "en": (
            "Invoice {{ document_number }} from {{ company_name }}",
            "Dear {{ contact_name }},\n\n"
            "please find attached invoice {{ document_number }} of {{ issue_date }} "
            "for {{ document_total }}, due on {{ due_date }}.\n\n"
            "You can view and pay it online here:\n{{ portal_link }}\n\n"
            "Kind regards,\n{{ company_name }}",
        ),
    },
    "credit_note": {
        "it": (
            "Nota di credito {{ document_number }} da {{ company_name }}",
            "Gentile {{ contact_name }},\n\n"
            "in allegato la nota di credito {{ document_number }} del {{ issue_date }} "
            "di {{ document_total }}, relativa alla fattura {{ credited_invoice_number }}.\n\n"
            "Il saldo aggiornato della fattura è {{ balance_due }}:\n{{ portal_link }}\n\n"
            "Cordiali saluti,\n{{ company_name }}",
        ),
        "en": (
            "Credit note {{ document_number }} from {{ company_name }}",
            "Dear {{ contact_name }},\n\n"
            "please find attached credit note {{ document_number }} of {{ issue_date }} "
            "for {{ document_total }}, against invoice {{ credited_invoice_number }}.\n\n"
            "The invoice's balance due is now {{ balance_due }}:\n{{ portal_link }}\n\n"
            "Kind regards,\n{{ company_name }}",
        ),
    },
    "quote": {
        "it": (
            "Preventivo {{ document_number }} da {{ company_name }}",
            "Gentile {{ contact_name }},\n\n"
            "in allegato il preventivo {{ document_number }} di {{ document_total }}, "
            "valido fino al {{ valid_until }}.\n\n"
            "Può accettarlo o rifiutarlo online qui:\n{{ portal_link }}\n\n"
            "Cordiali saluti,\n{{ company_name }}",
        ),
        "en": (
            "Quote {{ document_number }} from {{ company_name }}",
            "Dear {{ contact_name }},\n\n"
            "please find attached quote {{ document_number }} for {{ document_total }}, "
            "valid until {{ valid_until }}.\n\n"
            "You can accept or reject it online here:\n{{ portal_link }}\n\n"
            "Kind regards,\n{{ company_name }}",
        ),
    },
    "payment_receipt": {
        "it": (
            "Pagamento ricevuto per la fattura {{ document_number }}",
            "Gentile {{ contact_name }},\n\n"
            "abbiamo ricevuto il suo pagamento di {{ payment_amount }} del {{ payment_date }} "
            "per la fattura {{ document_number }}. Saldo residuo: {{ balance_due }}.\n\n"
            "Grazie,\n{{ company_name }}\n\n{{ portal_link }}",
        ),
        "en": (
            "Payment received for invoice {{ document_number }}",
            "Dear {{ contact_name }},\n\n"
            "we have received your payment of {{ payment_amount }} on {{ payment_date }} "
            "for invoice {{ document_number }}. Balance due: {{ balance_due }}.\n\n"
            "Thank you,\n{{ company_name }}\n\n{{ portal_link }}",
        ),
    },
    "reminder": {
        "it": (
            "Promemoria: fattura {{ document_number }} scaduta",
            "Gentile {{ contact_name }},\n\n"
            "la fattura {{ document_number }} è scaduta il {{ due_date }} "
            "({{ days_overdue }} giorni fa) e risulta un saldo da pagare di {{ balance_due }}.\n\n"
            "Può pagarla online qui:\n{{ portal_link }}\n\n"
            "Se ha già provveduto, non tenga conto di questo messaggio.\n\n"
            "Cordiali saluti,\n{{ company_name }}",
        ),
        "en": (
            "Reminder: invoice {{ document_number }} is overdue",
            "Dear {{ contact_name }},\n\n"
            "invoice {{ document_number }} was due on {{ due_date }} "
            "({{ days_overdue }} days ago) and {{ balance_due }} is still to be paid.\n\n"
            "You can pay it online here:\n{{ portal_link }}\n\n"
            "If you have already paid, please disregard this message.\n\n"
            "Kind regards,\n{{ company_name }}",
        ),
    },
    "ticket_reply": {
        "it": (
            "Risposta alla richiesta: {{ ticket_subject }}",
            "Gentile {{ contact_name }},\n\n"
            "abbiamo risposto alla sua richiesta \"{{ ticket_subject }}\":\n\n"
            "{{ ticket_message }}\n\n"
            "Può rispondere dal portale:\n{{ portal_link }}\n\n{{ company_name }}",
        ),
        "en": (
            "Reply to your request: {{ ticket_subject }}",
            "Dear {{ contact_name }},\n\n"
            "we have replied to your request \"{{ ticket_subject }}\":\n\n"
            "{{ ticket_message }}\n\n"
            "You can answer from the portal:\n{{ portal_link }}\n\n{{ company_name }}",
        ),
    },
    "new_ticket": {
        "it": (
            "Nuova richiesta da {{ client_name }}: {{ ticket_subject }}",
            "{{ contact_name }} ({{ client_name }}) ha aperto una richiesta:\n\n"
            "{{ ticket_subject }}\n\n{{ ticket_message }}\n\n{{ staff_link }}",
        ),
        "en": (
            "New request from {{ client_name }}: {{ ticket_subject }}",
            "{{ contact_name }} ({{ client_name }}) opened a request:\n\n"
            "{{ ticket_subject }}\n\n{{ ticket_message }}\n\n{{ staff_link }}",
        ),
    },
    "statement": {
        "it": (
            "Estratto conto da {{ company_name }}",
            "Gentile {{ contact_name }},\n\n"
            "le inviamo il riepilogo del suo conto con {{ company_name }}.\n\n"
            "Totale da pagare: {{ balance_due }}\n"
            "Di cui scaduto: {{ overdue_amount }}\n\n"
            "Fatture, pagamenti e PDF sono nell'area clienti:\n{{ portal_link }}\n\n{{ company_name }}",
        ),
        "en": (
            "Account statement from {{ company_name }}",
            "Dear {{ contact_name }},\n\n"
            "here is the summary of your account with {{ company_name }}.\n\n"
            "Total due: {{ balance_due }}\n"
            "Of which overdue: {{ overdue_amount }}\n\n"
            "Invoices, payments and PDFs are in the client area:\n{{ portal_link }}\n\n{{ company_name }}",
        ),
    },
    "portal_login": {
        "it": (
            "Il suo link di accesso a {{ company_name }}",
            "Gentile {{ contact_name }},\n\n"
            "ecco il link per accedere all'area clienti di {{ company_name }}:\n{{ portal_link }}\n\n"
            "Il link vale 15 minuti e può essere usato una sola volta. "
            "Se non l'ha richiesto lei, ignori questo messaggio.",
        ),
        "en": (
            "Your sign-in link for {{ company_name }}",
            "Dear {{ contact_name }},\n\n"
            "here is your link to the {{ company_name }} client area:\n{{ portal_link }}\n\n"
            "The link is valid for 15 minutes and works once. "
            "If you did not ask for it, please ignore this message.",
        ),
    },
}

DEFAULT_TEMPLATES["quote_accepted"] = {
    "it": (
        "Preventivo {{ document_number }} accettato da {{ client_name }}",
        "{{ contact_name }} ({{ client_name }}) ha accettato il preventivo {{ document_number }} "
        "di {{ document_total }}.\n\n{{ decision_reason }}\n\n{{ staff_link }}",
    ),
    "en": (
        "Quote {{ document_number }} accepted by {{ client_name }}",
        "{{ contact_name }} ({{ client_name }}) accepted quote {{ document_number }} "
        "for {{ document_total }}.\n\n{{ decision_reason }}\n\n{{ staff_link }}",
    ),
}
DEFAULT_TEMPLATES["quote_rejected"] = {
    "it": (
        "Preventivo {{ document_number }} rifiutato da {{ client_name }}",
        "{{ contact_name }} ({{ client_name }}) ha rifiutato il preventivo {{ document_number }} "
        "di {{ document_total }}.\n\n{{ decision_reason }}\n\n{{ staff_link }}",
    ),
    "en": (
        "Quote {{ document_number }} rejected by {{ client_name }}",
        "{{ contact_name }} ({{ client_name }}) rejected quote {{ document_number }} "
        "for {{ document_total }}.\n\n{{ decision_reason }}\n\n{{ staff_link }}",
    ),
}
