"""SdI's official example receipts move a document's state; XXE and garbage are refused; the
same receipt twice changes nothing; a rejected invoice is corrected under the same number."""
from __future__ import annotations

import io

import pytest

from app.billing import services as billing
from app.einvoice import services as einvoice
from app.einvoice.models import EInvoiceProgressive, SdiReceipt
from app.extensions import db
from tests.support.factories import STAFF_PASSWORD, login, make_client, make_invoice, make_staff_user
from tests.support.einvoice import SAMPLE_PROGRESSIVE, italian_company, sample

@pytest.fixture
def api(web):
    user = make_staff_user("Billing")
    db.session.commit()
    response = web.post("/api/v1/security/login", json={"username": user.username, "password": STAFF_PASSWORD,
                                                         "provider": "db", "refresh": False})
    return {"Authorization": f"Bearer {response.get_json()['access_token']}", "Content-Type": "application/xml"}


@pytest.fixture
def sample_invoice():
    """An invoice whose file is the one the official samples name."""
    italian_company()
    db.session.add(EInvoiceProgressive(id=1, last_value=SAMPLE_PROGRESSIVE - 1))
    invoice = make_invoice(make_client())
    billing.finalize_invoice(invoice)
    db.session.commit()
    assert invoice.sdi_file_name == "IT01234567890_11111.xml"
    return invoice


def post(web, api, content: bytes):
    return web.post("/api/v1/sdi/receipts", data=content, headers=api)


@pytest.mark.parametrize("kind, status", [("RC", "delivered"), ("MC", "not_delivered"), ("NE", "accepted"),
                                          ("DT", "expired"), ("AT", "not_delivered")])
def test_each_official_receipt_sets_its_state(web, api, sample_invoice, kind, status):
    response = post(web, api, sample(kind))
    assert response.status_code == 200, response.get_json()
    assert response.get_json() == {"document_type": "TD01", "document_id": sample_invoice.id, "sdi_status": status}
    db.session.expire_all()
    assert db.session.get(type(sample_invoice), sample_invoice.id).sdi_status == status


def test_a_rejection_lists_sdis_errors_and_the_correction_gets_a_new_file(web, api, sample_invoice):
    assert post(web, api, sample("NS")).get_json()["sdi_status"] == "rejected"
    db.session.expire_all()
    invoice = db.session.get(type(sample_invoice), sample_invoice.id)
    assert invoice.sdi_errors == [{"code": "00100", "description": "Certificato di firma scaduto"}]
    number, first_name = invoice.number, invoice.sdi_file_name

    billing.reopen_for_correction(invoice)
    billing.finalize_invoice(invoice)
    db.session.commit()
    assert invoice.number == number
    assert invoice.sdi_file_name != first_name and invoice.sdi_status == "not_sent" and invoice.sdi_errors == []
    history = einvoice.files_of(invoice)
    assert [f.file_name for f in history] == [first_name, invoice.sdi_file_name]
    assert history[0].sdi_status == "rejected"  # the history keeps what SdI said of each file


def test_the_same_receipt_twice_changes_nothing(web, api, sample_invoice):
    assert post(web, api, sample("RC")).status_code == 200
    assert post(web, api, sample("RC")).get_json()["sdi_status"] == "delivered"
    assert db.session.query(SdiReceipt).count() == 1


def test_a_late_receipt_never_takes_the_state_back(web, api, sample_invoice):
    post(web, api, sample("NE"))
    assert post(web, api, sample("RC")).get_json()["sdi_status"] == "accepted"


def test_a_receipt_for_no_file_of_ours_is_404(web, api):
    italian_company()
    db.session.commit()
    assert post(web, api, sample("RC")).status_code == 404


@pytest.mark.parametrize("content", [
    b"not xml at all", b"<RicevutaConsegna><NomeFile>", b"<Other/>",
    b'<?xml version="1.0"?><types:RicevutaConsegna xmlns:types="http://www.fatturapa.gov.it/sdi/messaggi/v1.0"/>',
])
def test_garbage_is_400(web, api, sample_invoice, content):
    assert post(web, api, content).status_code == 400


def test_xxe_is_refused_and_reads_nothing(web, api, sample_invoice, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET")
    for content in (
        f'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file://{secret}">]>'
        f'<types:RicevutaConsegna xmlns:types="http://www.fatturapa.gov.it/sdi/messaggi/v1.0">'
        f'<NomeFile>IT01234567890_11111.xml&x;</NomeFile><MessageId>1</MessageId></types:RicevutaConsegna>',
        '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>'
        '<types:RicevutaConsegna xmlns:types="http://www.fatturapa.gov.it/sdi/messaggi/v1.0">'
        '<NomeFile>&b;</NomeFile></types:RicevutaConsegna>',
    ):
        response = post(web, api, content.encode())
        assert response.status_code == 400
        assert b"TOPSECRET" not in response.data
    db.session.expire_all()
    assert db.session.get(type(sample_invoice), sample_invoice.id).sdi_status == "not_sent"


def test_receipts_need_a_token(web, sample_invoice):
    assert web.post("/api/v1/sdi/receipts", data=sample("RC")).status_code == 401


def test_the_admin_uploads_a_receipt_and_sees_the_state(web, sample_invoice):
    user = make_staff_user("Billing")
    db.session.commit()
    login(web, user.username)
    page = web.get("/admin/sdi/")
    assert page.status_code == 200 and b"IT01234567890_11111.xml" in page.data
    token = _csrf(web)
    response = web.post("/admin/sdi/receipts", data={"csrf_token": token,
                                                     "receipt": (io.BytesIO(sample("NS")), "NS.xml")},
                        content_type="multipart/form-data", follow_redirects=True)
    assert response.status_code == 200
    assert b"00100" in response.data and b"Certificato di firma scaduto" in response.data
    show = web.get(f"/invoiceview/show/{sample_invoice.id}")
    assert b"/admin/sdi/invoice/%d/xml" % sample_invoice.id in show.data
    xml = web.get(f"/admin/sdi/invoice/{sample_invoice.id}/xml")
    assert xml.status_code == 200 and xml.mimetype == "application/xml"


def _csrf(web) -> str:
    import re

    page = web.get("/admin/sdi/").data.decode()
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
