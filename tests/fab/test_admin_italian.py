"""The staff side in Italian, item by item: the Outbox page, the email template form, the
messages after saving, where a delete lands, the favicon, the home page for a visitor, and the
Stripe notice shown once."""
from __future__ import annotations

from html.parser import HTMLParser

from sqlalchemy import select

from app.extensions import db
from app.mail import notifications, templating
from app.mail.models import EmailTemplate, OutboxEmail
from tests.support.factories import login, make_client, make_invoice, make_staff_user


def _admin(web):
    login(web, make_staff_user("Admin").username)
    web.get("/lang/it")


class _Frames(HTMLParser):
    def __init__(self):
        super().__init__()
        self.srcdocs: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "iframe":
            self.srcdocs.append(dict(attrs).get("srcdoc", ""))


def test_the_outbox_preview_holds_the_whole_email_and_names_the_document_by_number(web):
    invoice = make_invoice(make_client("Verdi Costruzioni S.r.l."), finalize=True)
    notifications.send_document(invoice)
    db.session.commit()
    email = db.session.scalars(select(OutboxEmail)).one()
    _admin(web)

    page = web.get(f"/outboxview/show/{email.id}").get_data(as_text=True)
    frames = _Frames()
    frames.feed(page)
    assert frames.srcdocs and 'style="' in email.body_html  # an email with quoted attributes
    assert frames.srcdocs[0] == '<base target="_blank">' + email.body_html  # nothing cut at a quote
    assert 'sandbox="allow-popups allow-popups-to-escape-sandbox"' in page
    assert invoice.number in page
    assert "None" not in page
    assert "MAIL_SERVER is not set" not in page
    assert "Nessun server di posta configurato (MAIL_SERVER): registrata solo nella posta in uscita." in page


def test_an_email_about_a_draft_says_draft(web):
    draft = make_invoice(make_client())
    db.session.add(OutboxEmail(idempotency_key="draft-1", kind="invoice", to_email="a@b.it", subject="Fattura",
                               body_text="x", body_html="<p>x</p>", invoice_id=draft.id))
    db.session.commit()
    _admin(web)
    email = db.session.scalars(select(OutboxEmail)).one()
    assert "bozza" in web.get(f"/outboxview/show/{email.id}").get_data(as_text=True)


def test_a_new_template_picks_kind_and_language_from_labelled_lists_and_says_it_is_saved(web):
    _admin(web)
    form = web.get("/emailtemplateview/add").get_data(as_text=True)
    assert '<select class="form-control" id="kind"' in form or '<select id="kind"' in form or 'id="kind" name="kind"' in form
    assert '<option value="payment_receipt">Ricevuta di pagamento</option>' in form
    assert '<option value="en">Inglese</option>' in form
    templating.ensure_global_templates()
    db.session.query(EmailTemplate).filter_by(kind="statement", language="en").delete()
    db.session.commit()
    response = web.post("/emailtemplateview/add", data={"kind": "statement", "language": "en",
                                                          "subject": "Your statement", "body": "Hello"},
                        follow_redirects=True)
    page = response.get_data(as_text=True)
    assert "Modello email salvato." in page and "Riga aggiunta" not in page
    row = db.session.scalar(select(EmailTemplate).filter_by(kind="statement", language="en"))
    shown = web.get(f"/emailtemplateview/show/{row.id}").get_data(as_text=True)
    assert "Estratto conto" in shown and "Inglese" in shown  # labels, not "statement" and "en"


def test_a_refused_template_says_why_in_italian(web):
    _admin(web)
    row = templating.ensure_global_templates() or db.session.scalar(select(EmailTemplate).filter_by(language="it"))
    db.session.commit()
    row = db.session.scalar(select(EmailTemplate).filter_by(language="it"))
    page = web.post(f"/emailtemplateview/edit/{row.id}", data={"subject": "Fattura", "body": "Ciao {{ client_name"}
                    ).get_data(as_text=True)
    assert "Errore di sintassi alla riga 1" in page
    assert "unexpected" not in page


def test_deleting_from_a_list_lands_back_on_the_list(web):
    _admin(web)
    templating.ensure_global_templates()
    db.session.commit()
    row = db.session.scalar(select(EmailTemplate).filter_by(language="it"))
    web.get("/emailtemplateview/list/")
    response = web.post(f"/emailtemplateview/delete/{row.id}",
                        headers={"Referer": "http://localhost/emailtemplateview/list/?_flt_0_kind=invoice"})
    assert response.status_code == 302
    assert response.headers["Location"] == "/emailtemplateview/list/?_flt_0_kind=invoice"
    from_show = web.post(f"/emailtemplateview/delete/{row.id + 1}",
                         headers={"Referer": f"http://localhost/emailtemplateview/show/{row.id + 1}"})
    assert from_show.headers["Location"].endswith("/emailtemplateview/list/")  # its own page is gone


def test_each_row_of_a_list_has_its_own_buttons_labelled_in_italian(web):
    first, second = make_invoice(), make_invoice()
    db.session.commit()
    _admin(web)

    page = web.get("/invoiceview/list/").get_data(as_text=True)

    for invoice in (first, second):
        assert f'href="/invoiceview/show/{invoice.id}"' in page
        assert f'href="/invoiceview/edit/{invoice.id}"' in page
        assert f"execute_single_delete('/invoiceview/delete/{invoice.id}','Eliminare questo elemento?')" in page
    assert page.count('<span class="sr-only">Mostra</span>') >= 2
    assert page.count('<span class="sr-only">Modifica</span>') >= 2
    assert 'title="Elimina"' in page


def test_admin_and_portal_pages_carry_the_favicon(web):
    assert web.get("/static/favicon.svg").status_code == 200
    assert 'rel="icon"' in web.get("/portal/login").get_data(as_text=True)
    assert 'rel="icon"' in web.get("/login/").get_data(as_text=True)


def test_a_visitor_opening_the_home_page_lands_on_the_sign_in_page_without_an_error(web):
    response = web.get("/")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login/")
    page = web.get(response.headers["Location"]).get_data(as_text=True)
    assert "Accesso negato" not in page and "Access is Denied" not in page


def test_the_stripe_notice_shows_once_per_session_on_the_dashboard(web):
    _admin(web)
    assert 'data-testid="stripe-not-configured"' in web.get("/").get_data(as_text=True)
    assert 'data-testid="stripe-not-configured"' not in web.get("/").get_data(as_text=True)


def test_the_select2_boxes_speak_italian(web):
    _admin(web)
    assert "Rimuovi tutto" in web.get("/clientview/list/").get_data(as_text=True)
