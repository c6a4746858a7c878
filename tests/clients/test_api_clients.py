"""The client REST API: JWT only, contacts nested, the client rules on every write.

`api_headers()` (a JWT for a new staff user of a role) is shared by the other API tests.
"""
from __future__ import annotations

from sqlalchemy import func, select

from app.activity.models import Activity
from app.clients.models import Client, Contact
from app.extensions import db
from tests.support.api import api_headers, rison
from tests.support.factories import STAFF_PASSWORD, VALID_CODICE_FISCALE, VALID_PARTITE_IVA, make_client, make_staff_user


def client_body(**overrides) -> dict:
    body = {
        "name": "Bianchi Impianti S.r.l.",
        "kind": "business",
        "email": "amministrazione@bianchi.it",
        "phone": "+39 02 1234567",
        "address": "Via Torino 12",
        "city": "Milano",
        "province": "mi",
        "postal_code": "20123",
        "country": "IT",
        "vat_number": "IT" + VALID_PARTITE_IVA[0],
        "sdi_code": "m5uxcr1",
        "language": "it",
        "currency": "EUR",
        "notes": "Paga sempre puntuale.",
        "contacts": [
            {"name": "Laura Bianchi", "email": "laura@bianchi.it", "phone": "333 1234567"},
            {"name": "Paolo Verdi", "email": "paolo@bianchi.it", "is_primary": True},
        ],
    }
    body.update(overrides)
    return body


def client_count() -> int:
    return db.session.scalar(select(func.count()).select_from(Client))


def test_anonymous_requests_get_401_on_every_client_endpoint(web):
    client = make_client()
    db.session.commit()
    assert web.get("/api/v1/client/").status_code == 401
    assert web.get(f"/api/v1/client/{client.id}").status_code == 401
    assert web.get(f"/api/v1/client/{client.id}/summary").status_code == 401
    assert web.post("/api/v1/client/", json=client_body()).status_code == 401
    assert web.put(f"/api/v1/client/{client.id}", json={"city": "Roma"}).status_code == 401
    assert client_count() == 1


def test_a_signed_in_admin_browser_session_is_not_an_api_credential(web):
    """The API is JWT only: the admin's cookie must not authorize API calls (FAB's API is CSRF-exempt)."""
    user = make_staff_user("Billing")
    assert web.post("/login/", data={"username": user.username, "password": STAFF_PASSWORD}).status_code == 302
    assert web.get("/api/v1/client/").status_code == 401
    assert web.post("/api/v1/client/", json=client_body()).status_code == 401
    assert client_count() == 0


def test_a_wrong_password_gets_no_token(web):
    user = make_staff_user("Billing")
    response = web.post("/api/v1/security/login", json={
        "username": user.username, "password": "wrong", "provider": "db"})
    assert response.status_code == 401
    assert "access_token" not in (response.get_json() or {})


def test_create_a_client_with_contacts_normalizes_fields_and_answers_the_contract_shape(web):
    headers = api_headers(web)
    response = web.post("/api/v1/client/", json=client_body(), headers=headers)

    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    client = db.session.get(Client, body["id"])
    result = body["result"]
    assert result["id"] == client.id
    assert result["vat_number"] == VALID_PARTITE_IVA[0]  # the IT prefix is dropped for Italian numbers
    assert (result["province"], result["sdi_code"]) == ("MI", "M5UXCR1")
    assert set(result) >= {"id", "name", "kind", "email", "phone", "address", "city", "province", "postal_code",
                           "country", "vat_number", "tax_code", "sdi_code", "pec", "language", "currency",
                           "notes", "contacts"}
    assert [(c["name"], c["email"], c["is_primary"]) for c in result["contacts"]] == [
        ("Paolo Verdi", "paolo@bianchi.it", True),  # the primary contact comes first
        ("Laura Bianchi", "laura@bianchi.it", False),
    ]
    assert all(isinstance(c["id"], int) for c in result["contacts"])
    assert db.session.scalar(select(func.count()).select_from(Contact).where(Contact.client_id == client.id)) == 2
    assert db.session.scalars(select(Activity.kind).where(Activity.client_id == client.id)).all() == [
        "client_created"]


def test_a_client_created_without_contacts_gets_its_primary_contact_from_the_client(web):
    body = client_body()
    del body["contacts"]
    response = web.post("/api/v1/client/", json=body, headers=api_headers(web))
    assert response.status_code == 201
    assert [(c["name"], c["email"], c["is_primary"]) for c in response.get_json()["result"]["contacts"]] == [
        ("Bianchi Impianti S.r.l.", "amministrazione@bianchi.it", True)]


def test_when_no_contact_is_marked_primary_the_first_one_is(web):
    contacts = [{"name": "Laura Bianchi", "email": "laura@bianchi.it"}, {"name": "Paolo", "email": "p@bianchi.it"}]
    response = web.post("/api/v1/client/", json=client_body(contacts=contacts), headers=api_headers(web))
    assert [c["is_primary"] for c in response.get_json()["result"]["contacts"]] == [True, False]


def test_two_contacts_with_one_email_are_a_422_at_the_second_email_as_in_the_admin(web):
    body = client_body(contacts=[{"name": "Laura Bianchi", "email": "laura@bianchi.it", "is_primary": True},
                                 {"name": "Laura B.", "email": "Laura@Bianchi.it"}])
    response = web.post("/api/v1/client/", json=body, headers=api_headers(web))
    assert response.status_code == 422
    assert response.get_json()["message"] == {"contacts.1.email": ["Two contacts cannot share an email address."]}
    assert client_count() == 0


def test_an_update_cannot_give_two_contacts_one_email(web):
    client = make_client("Rossi S.r.l.", contacts=[{"name": "Giulia", "email": "giulia@rossi.it"}])
    db.session.commit()
    response = web.put(f"/api/v1/client/{client.id}", json={"contacts": [
        {"id": client.contacts[0].id, "name": "Giulia", "email": "giulia@rossi.it", "is_primary": True},
        {"name": "Giulia R.", "email": "GIULIA@rossi.it"},
    ]}, headers=api_headers(web))
    assert response.status_code == 422
    assert list(response.get_json()["message"]) == ["contacts.1.email"]
    db.session.expire_all()
    assert [c.name for c in db.session.get(Client, client.id).contacts] == ["Giulia"]


def test_an_invalid_vat_number_is_a_422_on_vat_number_and_nothing_is_saved(web):
    response = web.post("/api/v1/client/", json=client_body(vat_number="IT12345678901"), headers=api_headers(web))
    assert response.status_code == 422
    errors = response.get_json()["message"]
    assert list(errors) == ["vat_number"]
    assert errors["vat_number"] == [
        "This is not a valid Italian VAT number (Partita IVA: 11 digits with a check digit)."]
    assert client_count() == 0
    assert db.session.scalar(select(func.count()).select_from(Contact)) == 0


def test_each_invalid_field_gets_its_own_error(web):
    body = client_body(kind="individual", vat_number="", tax_code="RSSMRA85T10A562X", postal_code="201",
                       email="not-an-email", contacts=[{"name": "", "email": "laura@"}])
    response = web.post("/api/v1/client/", json=body, headers=api_headers(web))
    assert response.status_code == 422
    errors = response.get_json()["message"]
    assert set(errors) == {"tax_code", "postal_code", "email", "contacts.0.name", "contacts.0.email"}
    assert errors["tax_code"] == ["This is not a valid codice fiscale."]
    assert errors["contacts.0.email"] == ["This is not a valid email address."]
    assert client_count() == 0


def test_errors_speak_the_language_the_caller_accepts_italian_by_default(web):
    headers = api_headers(web)
    del headers["Accept-Language"]
    response = web.post("/api/v1/invoice/", json={}, headers=headers)
    assert response.get_json()["message"] == {"client_id": ["Questo campo è obbligatorio."]}
    headers["Accept-Language"] = "en-GB,en;q=0.9"
    response = web.post("/api/v1/invoice/", json={}, headers=headers)
    assert response.get_json()["message"] == {"client_id": ["This field is required."]}


def test_unknown_fields_and_wrong_types_are_refused_by_name(web):
    headers = api_headers(web)
    response = web.post("/api/v1/client/", json=client_body(vat="x", city=12), headers=headers)
    assert response.status_code == 422
    assert response.get_json()["message"] == {"vat": ["Unknown field."], "city": ["Must be text."]}
    response = web.post("/api/v1/client/", json=client_body(contacts=[
        {"name": "A", "email": "a@bianchi.it", "is_primary": True},
        {"name": "B", "email": "b@bianchi.it", "is_primary": True},
    ]), headers=headers)
    assert response.get_json()["message"] == {"contacts": ["Only one contact can be the primary contact."]}
    assert client_count() == 0


def test_a_body_that_is_not_a_json_object_is_a_400(web):
    headers = api_headers(web)
    assert web.post("/api/v1/client/", data="name=Rossi", headers=headers).status_code == 400
    assert web.post("/api/v1/client/", json=["Rossi"], headers=headers).status_code == 400


def test_read_a_client_with_its_contacts(web):
    client = make_client("Rossi S.r.l.", contacts=[{"name": "Giulia", "email": "giulia@rossi.it"},
                                                  {"name": "Marco", "email": "marco@rossi.it"}])
    db.session.commit()
    response = web.get(f"/api/v1/client/{client.id}", headers=api_headers(web, "Support"))
    assert response.status_code == 200
    body = response.get_json()
    assert body["id"] == client.id
    assert body["result"]["name"] == "Rossi S.r.l."
    assert [c["email"] for c in body["result"]["contacts"]] == ["giulia@rossi.it", "marco@rossi.it"]
    assert web.get("/api/v1/client/999999", headers=api_headers(web)).status_code == 404


def test_list_and_filter_clients_in_fab_shape(web):
    make_client("Rossi S.r.l.", city="Torino", province="TO", postal_code="10121")
    make_client("Bianchi S.p.A.", city="Milano")
    make_client("Verdi Persona", kind="individual", city="Torino", province="TO", postal_code="10121")
    db.session.commit()
    headers = api_headers(web)

    everyone = web.get("/api/v1/client/", headers=headers).get_json()
    assert everyone["count"] == 3
    assert [c["name"] for c in everyone["result"]] == ["Bianchi S.p.A.", "Rossi S.r.l.", "Verdi Persona"]
    assert everyone["ids"] == [c["id"] for c in everyone["result"]]
    assert all(len(c["contacts"]) == 1 for c in everyone["result"])

    query = rison({"filters": [{"col": "city", "opr": "eq", "value": "Torino"},
                               {"col": "kind", "opr": "eq", "value": "business"}]})
    torino = web.get(f"/api/v1/client/?q={query}", headers=headers).get_json()
    assert (torino["count"], [c["name"] for c in torino["result"]]) == (1, ["Rossi S.r.l."])

    query = rison({"filters": [{"col": "name", "opr": "ct", "value": "ssi"}], "page_size": 1, "page": 0})
    page = web.get(f"/api/v1/client/?q={query}", headers=headers).get_json()
    assert (page["count"], len(page["result"])) == (1, 1)


def test_update_changes_only_the_fields_sent_and_checks_them_again(web):
    client = make_client("Rossi S.r.l.")
    db.session.commit()
    headers = api_headers(web)

    response = web.put(f"/api/v1/client/{client.id}", json={"city": "Roma", "province": "rm",
                                                             "postal_code": "00184"}, headers=headers)
    assert response.status_code == 200, response.get_json()
    assert (response.get_json()["result"]["city"], response.get_json()["result"]["province"]) == ("Roma", "RM")
    db.session.expire_all()
    assert (client.name, client.city, client.vat_number) == ("Rossi S.r.l.", "Roma", client.vat_number)

    response = web.put(f"/api/v1/client/{client.id}", json={"vat_number": "123"}, headers=headers)
    assert response.status_code == 422
    assert list(response.get_json()["message"]) == ["vat_number"]
    db.session.expire_all()
    assert client.city == "Roma" and client.vat_number in VALID_PARTITE_IVA


def test_update_replaces_contacts_keeping_those_sent_with_their_id(web):
    client = make_client("Rossi S.r.l.", contacts=[{"name": "Giulia", "email": "giulia@rossi.it"},
                                                  {"name": "Marco", "email": "marco@rossi.it"}])
    db.session.commit()
    giulia, marco = client.contacts
    giulia_id, marco_id = giulia.id, marco.id
    response = web.put(f"/api/v1/client/{client.id}", json={"contacts": [
        {"id": marco_id, "name": "Marco Rossi", "email": "marco@rossi.it", "is_primary": True},
        {"name": "Anna", "email": "anna@rossi.it"},
    ]}, headers=api_headers(web))
    assert response.status_code == 200, response.get_json()
    contacts = response.get_json()["result"]["contacts"]
    assert [(c["id"] == marco_id, c["name"], c["is_primary"]) for c in contacts] == [
        (True, "Marco Rossi", True), (False, "Anna", False)]
    assert db.session.get(Contact, giulia_id) is None


def test_a_contact_of_another_client_cannot_be_taken_over(web):
    mine = make_client("Rossi S.r.l.")
    theirs = make_client("Bianchi S.p.A.")
    db.session.commit()
    their_contact_id = theirs.contacts[0].id
    response = web.put(f"/api/v1/client/{mine.id}", json={"contacts": [
        {"id": their_contact_id, "name": "Hijack", "email": "evil@example.com"}]}, headers=api_headers(web))
    assert response.status_code == 422
    assert list(response.get_json()["message"]) == ["contacts.0.id"]
    db.session.expire_all()
    assert db.session.get(Contact, their_contact_id).client_id == theirs.id
    assert db.session.get(Contact, their_contact_id).name != "Hijack"


def test_an_individual_with_a_codice_fiscale_is_accepted(web):
    body = client_body(name="Mario Rossi", kind="individual", vat_number="", tax_code=VALID_CODICE_FISCALE.lower())
    response = web.post("/api/v1/client/", json=body, headers=api_headers(web))
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["result"]["tax_code"] == VALID_CODICE_FISCALE


def test_support_reads_clients_but_cannot_create_or_change_them(web):
    client = make_client("Rossi S.r.l.")
    db.session.commit()
    headers = api_headers(web, "Support")
    assert web.get("/api/v1/client/", headers=headers).status_code == 200
    assert web.post("/api/v1/client/", json=client_body(), headers=headers).status_code == 403
    assert web.put(f"/api/v1/client/{client.id}", json={"city": "Roma"}, headers=headers).status_code == 403
    assert client_count() == 1


def test_clients_are_not_deleted_over_the_api(web):
    client = make_client("Rossi S.r.l.")
    db.session.commit()
    response = web.delete(f"/api/v1/client/{client.id}", headers=api_headers(web))
    assert response.status_code == 405
    assert client_count() == 1


def test_the_openapi_spec_is_served_and_lists_the_contract(web):
    response = web.get("/api/v1/_openapi", headers=api_headers(web, "Admin"))
    assert response.status_code == 200
    paths = response.get_json()["paths"]
    for path in ("/client/", "/client/{pk}", "/client/{pk}/summary", "/invoice/", "/invoice/{pk}",
                 "/invoice/{pk}/send", "/invoice/{pk}/payment", "/invoice/{pk}/pdf", "/quote/",
                 "/quote/{pk}/send"):
        assert "/api/v1" + path in paths, path
    assert "delete" not in paths["/api/v1/client/{pk}"]
    assert "post" in paths["/api/v1/invoice/{pk}/payment"]


def test_a_removed_contact_takes_its_sign_in_links_along_and_its_emails_forget_it(web):
    """The same on SQLite as on PostgreSQL: foreign keys are enforced on both (ON DELETE
    CASCADE for sign-in links, SET NULL for the email history), so no row is left pointing
    at a contact id that SQLite could hand to the next contact."""
    from app.mail.models import OutboxEmail
    from app.portal.models import PortalToken
    from app.portal.tokens import issue_sign_in_link

    client = make_client("Rossi S.r.l.", contacts=[{"name": "Marco", "email": "marco@rossi.it"},
                                                  {"name": "Giulia", "email": "giulia@rossi.it"}])
    db.session.flush()
    marco, giulia = client.contacts  # Giulia holds the highest id, the one SQLite would reuse
    giulia.portal_enabled = True
    issue_sign_in_link(giulia)
    db.session.add(OutboxEmail(idempotency_key="statement-giulia", kind="statement", to_email=giulia.email,
                               subject="Estratto conto", body_text="…", body_html="…", client_id=client.id,
                               contact_id=giulia.id))
    db.session.commit()
    giulia_id, marco_id = giulia.id, marco.id

    response = web.put(f"/api/v1/client/{client.id}", json={"contacts": [
        {"id": marco_id, "name": "Marco", "email": "marco@rossi.it", "is_primary": True}]}, headers=api_headers(web))

    assert response.status_code == 200, response.get_json()
    db.session.expire_all()
    assert db.session.get(Contact, giulia_id) is None
    assert db.session.scalar(select(func.count()).select_from(PortalToken).where(
        PortalToken.contact_id == giulia_id)) == 0
    email = db.session.scalars(select(OutboxEmail)).one()
    assert (email.contact_id, email.client_id, email.to_email) == (None, client.id, "giulia@rossi.it")

    # Nor is the removed contact's id ever handed to a new one (SQLite would, by default).
    newcomer = make_client("Bianchi S.p.A.").contacts[0]
    db.session.flush()
    assert newcomer.id > giulia_id
