"""The whole support conversation on real components: a contact opens a ticket in the portal,
staff are emailed through a real SMTP server, a Support user answers from the admin, the
contact gets an email whose sign-in link lands on the ticket, replies, and the timeline
records each step."""
from __future__ import annotations

import re

from sqlalchemy import select

from app.activity.models import Activity
from app.company.services import get_company
from app.extensions import db
from app.mail.templating import save_client_template
from app.tickets import services
from app.tickets.models import Ticket
from tests.support.portal import csrf_token_from, make_client, make_invoice, sign_in
from tests.support.tickets import PDF, file_field, text_of
from tests.support.factories import login, make_staff_user

LINK = re.compile(r"http://clientela\.test/portal/auth/([A-Za-z0-9_-]+)")


def test_a_ticket_thread_round_trip_over_real_smtp(app, smtp_server):
    get_company().support_email = "assistenza@azienda.it"
    client, contact = make_client("Rossi Impianti S.r.l.", "giulia@rossi.it", language="it")
    invoice = make_invoice(client)
    db.session.commit()
    portal = app.test_client()
    sign_in(portal, contact)

    # 1. The contact opens a ticket about an invoice, with a PDF.
    response = portal.post("/portal/tickets", data={
        "subject": "Fattura errata", "body": "Buongiorno,\nmanca lo sconto.", "document": f"invoice-{invoice.id}",
        "attachments": file_field(PDF, "ordine.pdf"),
    })
    assert response.status_code == 303
    ticket = db.session.scalar(select(Ticket))

    # 2. Staff are told at the support address, with a link to the ticket in the admin.
    [to_staff] = smtp_server.to("assistenza@azienda.it")
    assert "Fattura errata" in to_staff["Subject"] and "Rossi Impianti" in to_staff["Subject"]
    assert "manca lo sconto." in text_of(to_staff)
    assert f"http://clientela.test/tickets/show/{ticket.id}" in text_of(to_staff)

    # 3. It is in the inbox at once; a Support user answers, and adds a note the client never sees.
    staff = app.test_client()
    login(staff, make_staff_user("Support", username="sara").username)
    inbox = staff.get("/tickets/list/").get_data(as_text=True)
    assert "Fattura errata" in inbox
    assert re.search(r'href="/tickets/list/">(?:(?!</a>).)*Tickets? \(1\)</a>', inbox, re.S), "the menu counts it"
    thread = staff.get(f"/tickets/show/{ticket.id}").get_data(as_text=True)
    assert "manca lo sconto." in thread and "ordine.pdf" in thread
    assert staff.post(f"/tickets/reply/{ticket.id}", data={"body": "Gentile Giulia,\nlo correggiamo oggi."}
                      ).status_code == 302
    assert staff.post(f"/tickets/reply/{ticket.id}", data={"body": "Verificare con amministrazione",
                                                            "internal": "1"}).status_code == 302
    db.session.refresh(ticket)
    assert ticket.status == "answered"

    # 4. The contact gets the reply (in Italian, the client's language) with a link to the ticket.
    [to_contact] = smtp_server.to("giulia@rossi.it")
    assert to_contact["Subject"] == "Risposta alla richiesta: Fattura errata"
    body = text_of(to_contact)
    assert "lo correggiamo oggi." in body and "Verificare" not in body
    assert len(smtp_server.messages) == 2, "an internal note emails nobody"

    # 5. A fresh browser opens the link: a button first, then the ticket itself.
    browser = app.test_client()
    token = LINK.search(body).group(1)
    assert browser.get(f"/portal/auth/{token}").status_code == 200
    landing = browser.post(f"/portal/auth/{token}")
    assert landing.status_code == 303 and landing.headers["Location"].endswith(f"/portal/tickets/{ticket.id}")
    page = browser.get(f"/portal/tickets/{ticket.id}").get_data(as_text=True)
    assert page.index("manca lo sconto.") < page.index("lo correggiamo oggi.")
    assert "Verificare con amministrazione" not in page

    # 6. The contact answers (open again), staff close, the contact writes again (reopened).
    assert browser.post(f"/portal/tickets/{ticket.id}", data={"body": "Grazie!"}).status_code == 303
    db.session.refresh(ticket)
    assert ticket.status == "open"
    assert staff.post(f"/tickets/close/{ticket.id}").status_code == 302
    db.session.refresh(ticket)
    assert ticket.status == "closed"
    assert browser.post(f"/portal/tickets/{ticket.id}", data={"body": "Un'ultima cosa"}).status_code == 303
    db.session.refresh(ticket)
    assert ticket.status == "open"

    # 7. The client's timeline tells the story.
    kinds = db.session.scalars(select(Activity.kind).where(Activity.client_id == client.id)
                               .order_by(Activity.id)).all()
    assert [k for k in kinds if k.startswith("ticket_")] == [
        "ticket_opened", "ticket_answered", "ticket_client_replied", "ticket_closed", "ticket_reopened_by_client"]
    dashboard = staff.get(f"/clients/{client.id}/dashboard").get_data(as_text=True)
    assert 'href="#tickets"' in dashboard and f"/tickets/show/{ticket.id}" in dashboard
    assert "Ticket opened: Fattura errata" in dashboard or "Fattura errata" in dashboard


def test_a_staff_reply_uses_the_clients_own_template(app, smtp_server):
    client, contact = make_client("Verdi S.p.A.", "luca@verdi.it", language="en")
    save_client_template(client, "ticket_reply", "[Verdi support] {{ ticket_subject }}",
                         "Hi {{ contact_name }}: {{ ticket_message }} -> {{ portal_link }}")
    ticket = services.open_ticket(contact, "Login", "Cannot sign in")
    db.session.commit()

    services.reply_as_staff(ticket, None, "Try this link")
    db.session.commit()

    [message] = smtp_server.to("luca@verdi.it")
    assert message["Subject"] == "[Verdi support] Login"
    assert LINK.search(text_of(message)) and "Try this link" in text_of(message)


def test_the_admin_reply_form_needs_a_csrf_token(app):
    client, contact = make_client("Neri S.r.l.", "neri@neri.it")
    ticket = services.open_ticket(contact, "Domanda", "Testo")
    db.session.commit()
    staff = app.test_client()
    login(staff, make_staff_user("Support").username)
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        assert staff.post(f"/tickets/reply/{ticket.id}", data={"body": "senza token"}).status_code == 400
        assert staff.post(f"/tickets/close/{ticket.id}").status_code == 400
        token = csrf_token_from(staff.get(f"/tickets/show/{ticket.id}").get_data(as_text=True))
        assert staff.post(f"/tickets/reply/{ticket.id}", data={"body": "con token", "csrf_token": token}
                          ).status_code == 302
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
    db.session.refresh(ticket)
    assert [m.body for m in ticket.messages] == ["Testo", "con token"] and ticket.status == "answered"
