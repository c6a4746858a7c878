"""Staff-edited email templates cannot run code, and refuse bad input with a field error."""
from __future__ import annotations

import pytest
from flask_babel import force_locale
from jinja2.sandbox import SecurityError

from app.extensions import db
from app.mail import templating
from app.mail.sandbox import TemplateRefused, render, sample_values, sandbox_env, validate_template
from tests.support.factories import make_client

# Escapes from the Jinja security advisories and the usual SSTI payloads.
ESCAPES = [
    "{{ ''.__class__.__mro__ }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
    "{{ lipsum.__globals__ }}",
    "{{ self._TemplateReference__context }}",
    '{{ "{0.__class__}".format(client_name) }}',
    '{{ "{0.__class__.__init__.__globals__}".format_map({"0": client_name}) }}',
    "{{ client_name|attr('__class__') }}",
    "{{ client_name|attr('format')('{0.__class__}') }}",
    "{{ client_name.upper() }}",
    "{{ client_name['__class__'] }}",
    "{% for c in client_name %}{% for d in client_name %}{{ c }}{% endfor %}{% endfor %}",
    "{% set x = client_name %}{{ x }}",
    "{% include 'email/layout.html' %}",
    "{% macro m() %}{% endmacro %}",
    "{{ 'a' * 1000000000 }}",
    "{{ client_name|center(1000000000) }}",
    "{{ range(100000000)|list }}",
    "{{ config }}",
    "{{ request }}",
]


@pytest.mark.parametrize("payload", ESCAPES)
def test_sandbox_escapes_are_refused_at_save_time(payload):
    with pytest.raises(TemplateRefused) as refused:
        validate_template("Oggetto", "Gentile cliente,\n" + payload)
    assert refused.value.field == "body"


def test_the_sandbox_itself_blocks_internals_even_without_the_checks():
    """The second line of defence, should a template ever skip validation."""
    env = sandbox_env()
    with pytest.raises(SecurityError):
        env.from_string("{{ ''.__class__.__mro__ }}").render()
    # Format strings and |attr reach only an "unsafe" undefined, which renders as nothing.
    assert env.from_string('{{ "{0.__class__}".format(x) }}').render(x="a") == ""
    assert env.from_string("{{ x|attr('__class__') }}").render(x="a") == ""
    assert env.from_string("{{ cycler }}{{ range }}{{ lipsum }}").render() == ""  # no globals


@pytest.mark.parametrize("subject", ["Fattura\r\nBcc: tutti@example.com", "Fattura\nX", "Fattura\r"])
def test_a_subject_with_a_line_break_is_refused(subject):
    with pytest.raises(TemplateRefused) as refused:
        validate_template(subject, "Testo")
    assert refused.value.field == "subject"


def test_syntax_errors_and_unknown_placeholders_name_the_problem():
    with pytest.raises(TemplateRefused, match="alla riga 2") as refused:  # staff read Italian by default
        validate_template("Oggetto", "Riga uno\n{{ client_name }")
    assert refused.value.field == "body"
    with force_locale("en"), pytest.raises(TemplateRefused, match="line 2"):
        validate_template("Subject", "Line one\n{{ client_name }")
    with pytest.raises(TemplateRefused, match="totale_fattura") as refused:
        validate_template("{{ totale_fattura }}", "Testo")
    assert refused.value.field == "subject"


def test_oversized_templates_are_refused():
    with pytest.raises(TemplateRefused):
        validate_template("Oggetto", "x" * 20_001)
    with pytest.raises(TemplateRefused):
        validate_template("x" * 256, "Testo")


def test_placeholders_if_blocks_and_simple_filters_work():
    rendered = render(
        "{{ document_number }} – {{ client_name|upper }}",
        "{% if balance_due %}Da pagare: {{ balance_due }}{% else %}Saldato{% endif %}\n{{ portal_link }}",
        {**sample_values(), "client_name": "Rossi"},
    )
    assert rendered.subject == "2026/0042 – ROSSI"
    assert rendered.text.startswith("Da pagare: 1.220,00 €")


def test_values_are_escaped_in_html_and_links_are_clickable():
    values = {**sample_values(), "client_name": '<img src=x onerror="alert(1)">',
              "portal_link": "https://clientela.example.com/portal/auth/abc"}
    rendered = render("Oggetto", "Cliente: {{ client_name }}\n\n{{ portal_link }}", values)
    assert "<img" not in rendered.html and "&lt;img src=x" in rendered.html
    assert '<a href="https://clientela.example.com/portal/auth/abc">' in rendered.html
    assert "<img src=x" in rendered.text  # the plain-text part is plain text


def test_a_value_with_a_line_break_cannot_add_a_header():
    rendered = render("Fattura per {{ client_name }}", "Testo",
                      {**sample_values(), "client_name": "Rossi\r\nBcc: x@example.com"})
    assert "\n" not in rendered.subject and "\r" not in rendered.subject


def test_saving_a_client_override_validates_and_reset_goes_back_to_global():
    client = make_client()
    with pytest.raises(TemplateRefused):
        templating.save_client_template(client, "invoice", "Ok", "{{ ''.__class__ }}")
    assert templating.template_for("invoice", client, "it")[2] == "default"

    templating.save_client_template(client, "invoice", "Solo per voi", "Testo")
    db.session.commit()
    assert templating.template_for("invoice", client, "it")[:2] == ("Solo per voi", "Testo")
    assert templating.template_for("invoice", client, "en")[2] == "client"  # whatever the language

    templating.reset_client_template(client, "invoice")
    db.session.commit()
    assert templating.template_for("invoice", client, "it")[2] == "default"


def test_staff_emails_ignore_client_overrides_and_cannot_have_one():
    client = make_client()
    with pytest.raises(TemplateRefused) as refused:
        templating.save_client_template(client, "new_ticket", "X", "Y")
    assert refused.value.field == "kind"
