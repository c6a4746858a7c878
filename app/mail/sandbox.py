"""Rendering staff-edited email templates safely.

Templates are written by staff, so they are treated as untrusted code:
- they run in Jinja's `ImmutableSandboxedEnvironment` with no globals (no `range`, `cycler`,
  `lipsum` …), and receive only plain strings, never ORM objects;
- before a template is saved (and again before it is rendered) its syntax tree is checked
  against a short allowlist: placeholders, `if`, comparisons, `~`, a few filters. Attribute
  and item access, calls, loops, macros, includes and arithmetic are refused, which also
  closes the format-string and `|attr` tricks from the Jinja security advisories, and keeps
  rendering time linear in the template's size;
- only the documented placeholders may appear; a subject may not contain CR or LF;
- rendering stops at a size cap and a time cap.

The plain-text part is the rendered template; the HTML part is that text escaped (so any
value a client typed is inert), with links made clickable and paragraphs kept.
"""
from __future__ import annotations

import re
import time
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from jinja2 import TemplateSyntaxError, meta, nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError
from markupsafe import Markup, escape

MAX_SUBJECT_SOURCE = 255
MAX_BODY_SOURCE = 20_000
MAX_SUBJECT_OUTPUT = 255
MAX_BODY_OUTPUT = 100_000
MAX_RENDER_SECONDS = 1.0

# The documented placeholders (docs/email.md): every value is a string already formatted
# in the client's language.
PLACEHOLDERS: dict[str, object] = {
    "client_name": _l("The client's name"),
    "contact_name": _l("The recipient contact's name"),
    "company_name": _l("Your company's legal name"),
    "company_email": _l("Your company's email address"),
    "company_phone": _l("Your company's phone number"),
    "document_kind": _l("\"invoice\", \"quote\" or \"credit note\", in the client's language"),
    "document_number": _l("The invoice, quote or credit note number"),
    "credited_invoice_number": _l("The number of the invoice a credit note corrects"),
    "document_total": _l("The document total, with currency"),
    "amount_paid": _l("The amount paid so far, with currency"),
    "balance_due": _l("The balance due, with currency"),
    "issue_date": _l("The issue date"),
    "due_date": _l("The invoice due date"),
    "valid_until": _l("The date until which a quote is valid"),
    "days_overdue": _l("Days past the due date (reminders)"),
    "overdue_amount": _l("The client's amount past due, with currency (statements)"),
    "payment_amount": _l("The amount of the payment received"),
    "payment_date": _l("The date of the payment received"),
    "portal_link": _l("The sign-in link to the client portal"),
    "ticket_subject": _l("The support ticket's subject"),
    "ticket_message": _l("The latest message of the support ticket"),
    "decision_reason": _l("The reason a client gave when accepting or rejecting a quote"),
    "staff_link": _l("A link into the admin (emails to staff)"),
}

ALLOWED_FILTERS = {"upper", "lower", "title", "capitalize", "trim", "default", "d", "truncate", "striptags",
                   "escape", "e"}
ALLOWED_TESTS = {"defined", "undefined", "none", "eq", "ne", "equalto", "string"}
ALLOWED_NODES = (
    nodes.Template, nodes.Output, nodes.TemplateData, nodes.Name, nodes.Const, nodes.Filter, nodes.Test,
    nodes.If, nodes.And, nodes.Or, nodes.Not, nodes.Compare, nodes.Operand, nodes.Concat, nodes.CondExpr,
    nodes.Keyword,
)


class TemplateRefused(ValueError):
    """A template cannot be saved (or rendered); `field` is "subject" or "body"."""

    def __init__(self, message, field: str):
        super().__init__(str(message))
        self.message = message
        self.field = field

    def as_dict(self) -> dict[str, str]:
        return {self.field: str(self.message)}


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: Markup


def sandbox_env() -> ImmutableSandboxedEnvironment:
    env = ImmutableSandboxedEnvironment(autoescape=False, keep_trailing_newline=False)
    env.globals.clear()
    return env


def sample_values() -> dict[str, str]:
    """Plausible values for previews and for the trial render at save time."""
    return {
        "client_name": "Rossi Impianti S.r.l.",
        "contact_name": "Mario Rossi",
        "company_name": "La mia azienda S.r.l.",
        "company_email": "info@example.com",
        "company_phone": "+39 02 1234567",
        "document_kind": "fattura",
        "document_number": "2026/0042",
        "credited_invoice_number": "2026/0041",
        "document_total": "1.220,00 €",
        "amount_paid": "0,00 €",
        "balance_due": "1.220,00 €",
        "issue_date": "1 mar 2026",
        "due_date": "31 mar 2026",
        "valid_until": "31 mar 2026",
        "days_overdue": "15",
        "overdue_amount": "610,00 €",
        "payment_amount": "500,00 €",
        "payment_date": "10 mar 2026",
        "portal_link": "https://clientela.example.com/portal/auth/esempio",
        "ticket_subject": "Domanda sulla fattura",
        "ticket_message": "Buongiorno, avrei una domanda.",
        "decision_reason": "Prezzo in linea con le attese.",
        "staff_link": "https://clientela.example.com/tickets/1",
    }


def _check_source(source: str, field: str, max_length: int):
    if len(source) > max_length:
        raise TemplateRefused(_l("This template is too long (at most %(max)d characters).", max=max_length), field)
    if field == "subject" and ("\r" in source or "\n" in source):
        raise TemplateRefused(_l("The subject must be a single line."), field)
    env = sandbox_env()
    try:
        tree = env.parse(source)
    except TemplateSyntaxError as exc:
        raise TemplateRefused(
            # Jinja's own message is English ("unexpected '}'"): the line is what helps.
            # No "%" in the message: FAB's form template passes errors through gettext again.
            _l("Syntax error on line %(line)d: check that every {{ has its }} and every \"if\" block its "
               "\"endif\".", line=exc.lineno or 1), field
        ) from None
    for node in tree.find_all(nodes.Node):
        if not isinstance(node, ALLOWED_NODES):
            raise TemplateRefused(
                _l("Only placeholders, \"if\" blocks and simple filters are allowed here."), field)
        if isinstance(node, nodes.Filter) and node.name not in ALLOWED_FILTERS:
            raise TemplateRefused(_l("The filter \"%(name)s\" is not allowed.", name=node.name), field)
        if isinstance(node, nodes.Test) and node.name not in ALLOWED_TESTS:
            raise TemplateRefused(_l("The test \"%(name)s\" is not allowed.", name=node.name), field)
        if isinstance(node, nodes.Name) and node.ctx != "load":
            raise TemplateRefused(_l("Templates cannot set variables."), field)
    unknown = sorted(meta.find_undeclared_variables(tree) - PLACEHOLDERS.keys())
    if unknown:
        raise TemplateRefused(_l("Unknown placeholder: %(names)s.", names=", ".join(unknown)), field)
    return env.from_string(tree)


def validate_template(subject: str, body: str) -> None:
    """Refuse, with a field error, a template that could not be rendered safely."""
    rendered = render(subject, body, sample_values())
    if not rendered.subject.strip():
        raise TemplateRefused(_l("The subject cannot be empty."), "subject")


def _render_capped(template, values: dict[str, str], field: str, max_output: int) -> str:
    deadline = time.monotonic() + MAX_RENDER_SECONDS
    parts, size = [], 0
    try:
        for chunk in template.generate(**values):
            size += len(chunk)
            if size > max_output:
                raise TemplateRefused(_l("The rendered email is too long."), field)
            if time.monotonic() > deadline:
                raise TemplateRefused(_l("The template takes too long to render."), field)
            parts.append(chunk)
    except SecurityError:
        raise TemplateRefused(_l("Templates cannot reach inside values or Python internals."), field) from None
    except TemplateRefused:
        raise
    except Exception as exc:  # any other failure of a staff-written template is a field error
        raise TemplateRefused(_l("This template cannot be rendered: %(error)s", error=str(exc)), field) from None
    return "".join(parts)


_URL = re.compile(r"https?://[^\s<>\"']+")


def text_to_html(text: str) -> Markup:
    """Escape the text, make links clickable, keep paragraphs and line breaks."""
    escaped = str(escape(text))
    linked = _URL.sub(lambda m: f'<a href="{m.group(0)}">{m.group(0)}</a>', escaped)
    paragraphs = [p.strip().replace("\n", "<br>\n") for p in re.split(r"\n\s*\n", linked) if p.strip()]
    return Markup("\n".join(f"<p>{p}</p>" for p in paragraphs))


def render(subject: str, body: str, values: dict[str, str]) -> RenderedEmail:
    """Render a (subject, body) template with plain string values; raises TemplateRefused."""
    values = {name: "" if value is None else str(value) for name, value in values.items() if name in PLACEHOLDERS}
    subject_template = _check_source(subject or "", "subject", MAX_SUBJECT_SOURCE)
    body_template = _check_source(body or "", "body", MAX_BODY_SOURCE)
    rendered_subject = _render_capped(subject_template, values, "subject", MAX_BODY_OUTPUT)
    # A value with a line break must never turn into a second header.
    rendered_subject = " ".join(rendered_subject.split())[:MAX_SUBJECT_OUTPUT]
    text = _render_capped(body_template, values, "body", MAX_BODY_OUTPUT).strip() + "\n"
    return RenderedEmail(subject=rendered_subject, text=text, html=text_to_html(text))
