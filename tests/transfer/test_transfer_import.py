"""Importing clients with their contacts from CSV and XLSX: the client rules on every row,
all or nothing, a second run updates instead of duplicating; the API, the admin and the CLI."""
from __future__ import annotations

import io
import re

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from app.clients.models import Client, Contact
from app.extensions import db
from app.transfer.imports import import_file
from tests.support.factories import VALID_CODICE_FISCALE, VALID_PARTITE_IVA, login, make_client, make_staff_user
from tests.support.api import api_headers

HEADER = "name,kind,email,vat_number,tax_code,city,province,postal_code,country,language,contact_name,contact_email"
GOOD = (
    f"{HEADER}\n"
    f"Bianchi Impianti S.r.l.,business,info@bianchi.it,IT{VALID_PARTITE_IVA[0]},,Milano,mi,20123,IT,it,Laura Bianchi,laura@bianchi.it\n"
    f"Bianchi Impianti S.r.l.,business,info@bianchi.it,{VALID_PARTITE_IVA[0]},,Milano,MI,20123,IT,it,Paolo Verdi,paolo@bianchi.it\n"
    f"Mario Rossi,individual,mario@rossi.it,,{VALID_CODICE_FISCALE},Roma,RM,00184,IT,en,,\n"
    "Müller GmbH,business,buchhaltung@mueller.de,DE136695976,,Berlin,,10115,DE,en,Anna Müller,anna@mueller.de\n"
)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def clients_count() -> int:
    return db.session.scalar(select(func.count(Client.id)))


def xlsx(rows: list[list[object]]) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def test_a_good_file_creates_each_client_once_with_its_contacts():
    report = import_file(GOOD.encode())
    db.session.commit()

    assert report.as_dict() == {"created": 3, "updated": 0, "errors": []}
    bianchi = db.session.scalar(select(Client).where(Client.vat_number == VALID_PARTITE_IVA[0]))
    assert bianchi.province == "MI"  # normalized as the form does
    assert [(c.name, c.email, c.is_primary) for c in bianchi.contacts] == [
        ("Laura Bianchi", "laura@bianchi.it", True), ("Paolo Verdi", "paolo@bianchi.it", False)]
    rossi = db.session.scalar(select(Client).where(Client.email == "mario@rossi.it"))
    assert (rossi.kind, rossi.tax_code, rossi.language) == ("individual", VALID_CODICE_FISCALE, "en")
    assert [(c.name, c.email) for c in rossi.contacts] == [("Mario Rossi", "mario@rossi.it")]  # as the API does
    assert db.session.scalar(select(Client.vat_number).where(Client.country == "DE")) == "DE136695976"


def test_running_the_same_file_again_updates_instead_of_duplicating():
    import_file(GOOD.encode())
    db.session.commit()
    again = import_file(GOOD.replace("Roma,RM,00184", "Napoli,NA,80100").encode())
    db.session.commit()

    assert again.as_dict() == {"created": 0, "updated": 3, "errors": []}
    assert clients_count() == 3
    assert db.session.scalar(select(func.count(Contact.id))) == 4
    assert db.session.scalar(select(Client.city).where(Client.email == "mario@rossi.it")) == "Napoli"


def test_a_present_client_is_found_by_vat_number_else_by_email():
    by_vat = make_client("Vecchio Nome S.r.l.", email="old@bianchi.it", vat_number=VALID_PARTITE_IVA[0])
    by_email = make_client("Mario Rossi", email="MARIO@rossi.it", kind="individual")
    db.session.commit()

    report = import_file(GOOD.encode())
    db.session.commit()

    assert (report.created, report.updated) == (1, 2)
    db.session.refresh(by_vat)
    assert (by_vat.name, by_vat.email) == ("Bianchi Impianti S.r.l.", "info@bianchi.it")
    assert "laura@bianchi.it" in [contact.email for contact in by_vat.contacts]
    db.session.refresh(by_email)
    assert by_email.city == "Roma"


def test_one_bad_row_imports_nothing_and_every_error_names_its_line_and_column():
    bad = (GOOD
           + "Verdi S.r.l.,business,verdi@verdi.it,12345678901,,Torino,TO,10100,IT,it,,\n"
           + "Neri S.r.l.,business,not-an-email,,,Bari,BA,7010,IT,it,Ugo,ugo@\n")
    report = import_file(bad.encode(), dry_run=False)

    assert (report.created, report.updated) == (0, 0)
    assert clients_count() == 0
    fields = {(error["row"], error["field"]) for error in report.errors}
    assert fields == {(6, "vat_number"), (7, "email"), (7, "vat_number"), (7, "postal_code"), (7, "contact_email")}
    vat_error = next(error for error in report.errors if error["row"] == 6)
    assert "Partita IVA" in vat_error["message"]


def test_a_multi_line_cell_keeps_the_line_numbers_of_the_file():
    text = (f"{HEADER},notes\n"
            f'Uno S.r.l.,business,uno@uno.it,{VALID_PARTITE_IVA[1]},,Milano,MI,20121,IT,it,,,"two\nlines"\n'
            "Due S.r.l.,business,due@due.it,123,,Milano,MI,20121,IT,it,,,\n")
    [error] = import_file(text.encode()).errors
    assert (error["row"], error["field"]) == (4, "vat_number")


def test_a_nul_character_is_refused_at_its_cell():
    [error] = import_file(f"name,email,vat_number\nBian\x00chi,info@bianchi.it,{VALID_PARTITE_IVA[0]}\n".encode()).errors
    assert (error["row"], error["field"]) == (2, "name")


def test_unknown_columns_are_refused_at_the_header():
    report = import_file(b"ragione_sociale,email\nBianchi,info@bianchi.it\n")
    assert {(e["row"], e["field"]) for e in report.errors} == {(1, "ragione_sociale"), (1, "name")}


def test_semicolons_and_windows_1252_as_italian_excel_saves_them():
    text = f"name;email;vat_number;city;province;postal_code\nCaffè Sport S.n.c.;bar@caffe.it;{VALID_PARTITE_IVA[2]};Forlì;FC;47121\n"
    report = import_file(text.encode("cp1252"))
    db.session.commit()
    assert report.created == 1
    assert db.session.scalar(select(Client.city)) == "Forlì"


def test_an_xlsx_file_is_read_with_numbers_and_postal_codes_as_text():
    content = xlsx([["name", "email", "vat_number", "postal_code", "city", "province"],
                    ["Bianchi Impianti S.r.l.", "info@bianchi.it", int(VALID_PARTITE_IVA[0]), "20123", "Milano", "MI"],
                    [None, None, None, None, None, None],
                    ["Rossi S.r.l.", "rossi@rossi.it", "IT1", 20121, "Milano", "MI"]])
    [error] = import_file(content).errors
    assert (error["row"], error["field"]) == (4, "vat_number")
    # Excel drops a number's leading zero: Partite IVA starting with 0 must be typed as text.
    fixed = xlsx([["name", "email", "vat_number"], ["Bianchi Impianti S.r.l.", "info@bianchi.it", VALID_PARTITE_IVA[1]]])
    assert import_file(fixed).as_dict() == {"created": 1, "updated": 0, "errors": []}


@pytest.mark.parametrize("content", [b"", b"\n\n", b"PK\x03\x04not really a workbook"])
def test_an_empty_or_unreadable_file_is_one_error_at_line_1(content):
    [error] = import_file(content).errors
    assert (error["row"], error["field"]) == (1, "_file")


# ---------------------------------------------------------------- the API

def test_the_api_dry_run_counts_and_imports_nothing(web):
    headers = {**api_headers(web), "Content-Type": "text/csv"}
    response = web.post("/api/v1/client/import?dry_run=1", data=GOOD.encode(), headers=headers)
    assert response.status_code == 200
    assert response.get_json() == {"created": 3, "updated": 0, "errors": []}
    assert clients_count() == 0

    response = web.post("/api/v1/client/import", data=GOOD.encode(), headers=headers)
    assert response.get_json() == {"created": 3, "updated": 0, "errors": []}
    db.session.expire_all()
    assert clients_count() == 3


def test_the_api_answers_422_with_the_rows_errors_in_the_callers_language(web):
    headers = {**api_headers(web, language="it"), "Content-Type": "text/csv"}
    response = web.post("/api/v1/client/import", data=b"name,email\n,nobody\n", headers=headers)
    assert response.status_code == 422
    body = response.get_json()
    assert body["created"] == body["updated"] == 0
    assert {"row": 2, "field": "name", "message": "Il nome è obbligatorio."} in body["errors"]
    assert clients_count() == 0


def test_the_api_takes_xlsx_by_its_content_type(web):
    content = xlsx([["name", "email", "vat_number"], ["Bianchi Impianti S.r.l.", "info@bianchi.it", VALID_PARTITE_IVA[0]]])
    response = web.post("/api/v1/client/import", data=content, headers={**api_headers(web), "Content-Type": XLSX})
    assert response.get_json() == {"created": 1, "updated": 0, "errors": []}


def test_the_api_refuses_other_bodies_large_files_and_readers(web):
    headers = api_headers(web)
    assert web.post("/api/v1/client/import", json={"name": "x"}, headers=headers).status_code == 415
    large = b"name,email\n" + b"x" * (2 * 1024 * 1024 + 1)
    assert web.post("/api/v1/client/import", data=large,
                    headers={**headers, "Content-Type": "text/csv"}).status_code == 413
    support = {**api_headers(web, "Support"), "Content-Type": "text/csv"}
    assert web.post("/api/v1/client/import", data=GOOD.encode(), headers=support).status_code == 403
    assert web.post("/api/v1/client/import", data=GOOD.encode(), headers={"Content-Type": "text/csv"}).status_code == 401
    assert clients_count() == 0


# ---------------------------------------------------------------- the admin page

def csrf_token(page: str) -> str:
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)


def test_the_admin_previews_the_file_then_imports_it(app, web):
    login(web, make_staff_user("Billing").username)
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        page = web.get("/import/clients/").get_data(as_text=True)
        preview = web.post("/import/clients/", data={
            "csrf_token": csrf_token(page), "file": (io.BytesIO(GOOD.encode()), "clienti.csv")},
            content_type="multipart/form-data")
        assert preview.status_code == 200
        text = preview.get_data(as_text=True)
        assert "3 clienti saranno creati, 0 aggiornati" in text
        assert clients_count() == 0

        content = re.search(r'id="content" name="content" type="hidden" value="([^"]+)"', text).group(1)
        assert web.post("/import/clients/confirm", data={"content": content}).status_code == 400  # no CSRF token
        done = web.post("/import/clients/confirm", data={"csrf_token": csrf_token(text), "content": content})
        assert done.status_code == 302
        db.session.expire_all()
        assert clients_count() == 3
    finally:
        app.config["WTF_CSRF_ENABLED"] = False


def test_the_admin_lists_the_errors_by_line_and_column(web):
    login(web, make_staff_user("Billing").username)
    response = web.post("/import/clients/", data={"file": (io.BytesIO(b"name,email\nX,bad\n"), "c.csv")},
                        content_type="multipart/form-data")
    assert response.status_code == 400
    table = response.get_data(as_text=True).split('id="import-errors"')[1]
    assert "<td>2</td><td><code>email</code></td>" in table and "import-confirm" not in table
    assert clients_count() == 0


def test_support_staff_cannot_import(web):
    login(web, make_staff_user("Support").username)
    assert web.get("/import/clients/").status_code in (302, 403)


# ---------------------------------------------------------------- the CLI

def test_the_cli_imports_or_explains_and_changes_nothing(app, tmp_path):
    path = tmp_path / "clienti.csv"
    path.write_text(GOOD)
    runner = app.test_cli_runner()
    dry = runner.invoke(args=["clientela", "import-clients", str(path), "--dry-run"])
    assert dry.exit_code == 0 and "3 clients would be created, 0 would be updated." in dry.output
    assert clients_count() == 0
    done = runner.invoke(args=["clientela", "import-clients", str(path)])
    assert done.exit_code == 0 and "3 clients were created" in done.output
    db.session.expire_all()
    assert clients_count() == 3

    path.write_text("name,email\nX,bad\n")
    refused = runner.invoke(args=["clientela", "import-clients", str(path)])
    assert refused.exit_code == 1 and "line 2, email" in refused.output and "nothing imported" in refused.output
