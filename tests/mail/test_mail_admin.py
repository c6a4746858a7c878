"""Email templates through the REST API and the admin, and the Outbox pages."""
from __future__ import annotations

from sqlalchemy import select

from app.extensions import db
from app.mail import notifications
from app.mail.models import ClientEmailTemplate, EmailTemplate, OutboxEmail
from tests.support.factories import login, make_client, make_invoice, make_staff_user
from tests.support.api import api_headers


def test_a_client_override_is_set_read_and_reset_through_the_api(web):
    client = make_client()
    db.session.commit()
    headers = api_headers(web, "Billing")
    url = f"/api/v1/client/{client.id}/email-template/invoice"

    response = web.put(url, json={"subject": "Fattura {{ document_number }} per voi", "body": "Ciao {{ contact_name }}"},
                       headers=headers)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["result"]["overridden"] is True
    assert web.get(url, headers=headers).get_json()["result"]["subject"] == "Fattura {{ document_number }} per voi"

    response = web.delete(url, headers=headers)
    assert response.get_json()["result"]["overridden"] is False
    db.session.expire_all()
    assert db.session.scalars(select(ClientEmailTemplate)).all() == []


def test_a_refused_template_is_a_400_on_its_field_and_changes_nothing(web):
    client = make_client()
    db.session.commit()
    headers = api_headers(web, "Billing")
    url = f"/api/v1/client/{client.id}/email-template/invoice"

    response = web.put(url, json={"subject": "Ok", "body": "{{ ''.__class__.__mro__ }}"}, headers=headers)
    assert response.status_code == 400 and "body" in response.get_json()["message"]
    response = web.put(url, json={"subject": "Fattura\r\nBcc: x@example.com", "body": "Testo"}, headers=headers)
    assert response.status_code == 400 and "subject" in response.get_json()["message"]
    response = web.put(url, json={"subject": "Ok"}, headers=headers)
    assert response.status_code == 400 and "body" in response.get_json()["message"]
    assert web.put(f"/api/v1/client/{client.id}/email-template/nonsense", json={"subject": "a", "body": "b"},
                   headers=headers).status_code == 404
    assert web.put(f"/api/v1/client/{client.id}/email-template/new_ticket", json={"subject": "a", "body": "b"},
                   headers=headers).status_code == 404  # staff emails have no per-client version
    db.session.expire_all()
    assert db.session.scalars(select(ClientEmailTemplate)).all() == []


def test_the_template_apis_need_a_jwt_and_the_right_role(web):
    client = make_client()
    db.session.commit()
    body = {"subject": "a", "body": "b"}
    assert web.put(f"/api/v1/client/{client.id}/email-template/invoice", json=body).status_code == 401
    support = api_headers(web, "Support")
    assert web.put(f"/api/v1/client/{client.id}/email-template/invoice", json=body,
                   headers=support).status_code == 403
    billing = api_headers(web, "Billing")
    assert web.put("/api/v1/email-template/invoice", json={**body, "language": "it"},
                   headers=billing).status_code == 403


def test_the_global_template_is_read_per_language_and_changed_through_the_api(web):
    headers = api_headers(web, "Admin")
    response = web.get("/api/v1/email-template/reminder", headers=headers)
    assert response.status_code == 200
    languages = response.get_json()["result"]["languages"]
    assert languages["it"]["subject"].startswith("Promemoria") and languages["en"]["subject"].startswith("Reminder")
    assert languages["it"]["customized"] is False

    response = web.put("/api/v1/email-template/reminder",
                       json={"language": "en", "subject": "Overdue: {{ document_number }}", "body": "Pay please"},
                       headers=headers)
    assert response.status_code == 200
    assert response.get_json()["result"]["languages"]["en"] == {
        "subject": "Overdue: {{ document_number }}", "body": "Pay please", "customized": True}
    response = web.put("/api/v1/email-template/reminder",
                       json={"language": "en", "subject": "{{ cycler.__init__.__globals__ }}", "body": "x"},
                       headers=headers)
    assert response.status_code == 400 and "subject" in response.get_json()["message"]


def _admin(web):
    user = make_staff_user("Admin")
    login(web, user.username)


def test_the_outbox_shows_an_unsent_email_safely_with_its_links(web):
    client = make_client("Evil <script>alert(1)</script> S.p.A.")
    notifications.send_document(make_invoice(client))
    db.session.commit()
    email = db.session.scalars(select(OutboxEmail)).one()
    _admin(web)

    listing = web.get("/outboxview/list/").get_data(as_text=True)
    assert email.to_email in listing
    page = web.get(f"/outboxview/show/{email.id}").get_data(as_text=True)
    assert "MAIL_SERVER" in page
    assert '<iframe sandbox="allow-popups allow-popups-to-escape-sandbox"' in page
    assert "<script>alert(1)</script>" not in page
    assert "http://clientela.test/portal/auth/" in page


def test_a_failed_email_is_sent_again_from_the_outbox(web, smtp_server):
    smtp_server.stop()
    notifications.send_document(make_invoice())
    db.session.commit()
    email = db.session.scalars(select(OutboxEmail)).one()
    assert email.status == "failed"
    smtp_server.start()
    _admin(web)

    assert web.get(f"/outboxview/resend/{email.id}").status_code == 405  # never on a GET
    response = web.post(f"/outboxview/resend/{email.id}")
    assert response.status_code == 302
    assert len(smtp_server.messages) == 1
    db.session.expire_all()
    assert db.session.get(OutboxEmail, email.id).status == "sent"
    web.post(f"/outboxview/resend/{email.id}")  # a sent email is not sent again
    assert len(smtp_server.messages) == 1


def test_global_templates_are_listed_edited_with_validation_and_previewed_with_real_data(web):
    client = make_client("Verdi Costruzioni S.r.l.")
    make_invoice(client, finalize=True)
    db.session.commit()
    _admin(web)

    assert web.get("/emailtemplateview/list/").status_code == 200
    row = db.session.scalar(select(EmailTemplate).filter_by(kind="invoice", language="it"))
    assert row is not None  # the built-in templates became editable rows

    page = web.post(f"/emailtemplateview/edit/{row.id}",
                    data={"subject": "Fattura {{ document_number }}", "body": "{{ ''.__class__ }}"})
    assert page.status_code == 200  # the form again, with the error
    db.session.expire_all()
    assert db.session.get(EmailTemplate, row.id).body != "{{ ''.__class__ }}"

    response = web.post(f"/emailtemplateview/edit/{row.id}",
                        data={"subject": "Fattura {{ document_number }}", "body": "Per {{ client_name }}"})
    assert response.status_code == 302
    preview = web.get(f"/emailtemplateview/preview/{row.id}?client_id={client.id}").get_data(as_text=True)
    assert "Per Verdi Costruzioni S.r.l." in preview
