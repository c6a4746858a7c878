"""Invoice and quote PDFs: what the reader finds on the page, in their language; that an
unchanged document is never rendered twice; and that hostile text in any field is printed
as text: nothing is fetched, read from disk or executed by wkhtmltopdf."""
from __future__ import annotations

import datetime as dt
import http.server
import io
import os
import re
import struct
import threading
import uuid
import zipfile
import zlib
from decimal import Decimal

import pytest
from flask_babel import force_locale, gettext
from pypdf import PdfReader
from sqlalchemy import select

from app.billing import services as billing
from app.billing.models import DocumentPdf, Invoice
from app.company.services import get_company
from app.extensions import db
from app.i18n import format_date, format_money
from app.pdf import render
from app.pdf.service import freshness_key, pdf_filename, pdf_for, render_html
from app.portal.zip import STORED_BATCH
from tests.support.portal import make_client as portal_client
from tests.support.portal import make_invoice as portal_invoice
from tests.support.portal import sign_in
from tests.support.factories import VALID_CODICE_FISCALE, line, make_client, make_invoice, make_quote
from tests.support.pdf import pdf_text


# --- helpers -------------------------------------------------------------------------------


def compact(text: str) -> str:
    """Without whitespace: long values wrap across lines in the PDF."""
    return re.sub(r"\s+", "", text)


def pdf_image_sizes(pdf: bytes) -> list[tuple[int, int]]:
    """(width, height) of every image embedded in the PDF."""
    sizes = []

    def walk(resources) -> None:
        xobjects = resources.get("/XObject") if resources else None
        if not xobjects:
            return
        for ref in xobjects.get_object().values():
            obj = ref.get_object()
            if obj.get("/Subtype") == "/Image":
                sizes.append((int(obj["/Width"]), int(obj["/Height"])))
            elif obj.get("/Subtype") == "/Form":
                walk(obj.get("/Resources"))

    for page in PdfReader(io.BytesIO(pdf)).pages:
        walk(page.get("/Resources"))
    return sizes


def png(width: int, height: int) -> bytes:
    """A red PNG of a size no other image in the PDF has, to tell whether it was embedded."""
    rows = b"".join(b"\x00" + b"\xcc\x00\x00" * width for _ in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def money_it(value: str) -> str:
    return format_money(Decimal(value), "EUR", "it").replace("\xa0", " ")


@pytest.fixture
def renders(monkeypatch) -> list[int]:
    """Counts real wkhtmltopdf runs (the one function that shells out), output untouched."""
    runs: list[int] = []
    real = render.html_to_pdf

    def counting(html: str) -> bytes:
        runs.append(1)
        return real(html)

    monkeypatch.setattr(render, "html_to_pdf", counting)
    return runs


@pytest.fixture
def web_server():
    """A real HTTP server on loopback that records every request it gets."""
    hits: list[str] = []

    class Recorder(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            hits.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.end_headers()
            self.wfile.write(png(41, 19))

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    server.hits = hits
    yield server
    server.shutdown()
    server.server_close()


def setup_company(**fields) -> None:
    company = get_company()
    values = {"legal_name": "Studio Bianchi S.r.l.", "address": "Corso Italia 8", "city": "Firenze",
              "province": "FI", "postal_code": "50123", "vat_number": "IT09876540585",
              "iban": "IT60X0542811101000000123456", "bank_name": "Banca Esempio"}
    values.update(fields)
    for name, value in values.items():
        setattr(company, name, value)


# --- what the reader finds -----------------------------------------------------------------

def test_the_invoice_pdf_carries_the_billing_block_and_the_tax_ids():
    setup_company()
    client = make_client("Ferramenta Rossi S.r.l.", address="Via Garibaldi 12", city="Torino", province="TO",
                         postal_code="10121", vat_number="12345670017", tax_code=VALID_CODICE_FISCALE,
                         sdi_code="M5UXCR1", pec="ferramenta.rossi@pec.it")
    invoice = make_invoice(client, finalize=True, issue_date=dt.date(2026, 3, 2), due_date=dt.date(2026, 4, 1),
                           lines=[line("Consulenza fiscale", 2, "1234.50", 22), line("Manuale", 1, "10", 4, 10)],
                           notes="Grazie per la fiducia.")

    text = pdf_text(pdf_for(invoice))

    with force_locale("it"):
        billed_to = gettext("Billed to")
    assert billed_to.upper() in text.upper()
    for expected in ("Ferramenta Rossi S.r.l.", "Via Garibaldi 12", "10121 Torino (TO)", "Italia",
                     client.vat_number, VALID_CODICE_FISCALE, "M5UXCR1", "ferramenta.rossi@pec.it"):
        assert expected in text
    assert invoice.number in text
    assert "Studio Bianchi S.r.l." in text and "IT09876540585" in text
    assert "IT60X0542811101000000123456" in text
    assert format_date(dt.date(2026, 4, 1), "it") in text
    # Lines, the VAT summary per rate (22% on 2469.00, 4% on 9.00) and the totals, the Italian way.
    assert "Consulenza fiscale" in text and "Manuale" in text
    for amount in ("2469.00", "543.18", "9.00", "0.36", "2478.00", "543.54", "3021.54"):
        assert money_it(amount) in text, amount
    assert "Grazie per la fiducia." in text


def test_an_english_client_gets_an_english_pdf_and_file_name():
    setup_company()
    client = make_client("Acme Ltd", language="en", country="IT")
    invoice = make_invoice(client, finalize=True, lines=[line("Design work", 3, "1000")])

    text = pdf_text(pdf_for(invoice))

    assert "BILLED TO" in text.upper()
    assert "€3,000.00" in text and "€3,660.00" in text
    assert format_date(invoice.due_date, "en") in text
    assert pdf_filename(invoice) == f"Invoice_{invoice.year}-{invoice.sequence:04d}.pdf"


def test_a_quote_pdf_shows_its_validity_and_no_payment_instructions():
    setup_company()
    quote = make_quote(finalize=True, valid_until=dt.date.today() + dt.timedelta(days=45))

    text = pdf_text(pdf_for(quote))

    with force_locale("it"):
        assert gettext("Valid until") in text
        assert gettext("Payment instructions").upper() not in text.upper()
    assert format_date(quote.valid_until, "it") in text
    assert quote.number in text
    assert pdf_filename(quote) == f"Preventivo_P{quote.year}-{quote.sequence:04d}.pdf"


def test_a_draft_is_marked_as_such_and_named_by_its_id():
    invoice = make_invoice()

    with force_locale("it"):
        assert gettext("Draft").upper() in pdf_text(pdf_for(invoice)).upper()
    assert pdf_filename(invoice) == f"Fattura_bozza_{invoice.id}.pdf"


def test_file_names_keep_only_safe_characters():
    get_company().invoice_number_format = "FT {year}/{seq} è"
    invoice = make_invoice(finalize=True)

    assert pdf_filename(invoice) == f"Fattura_FT-{invoice.year}-{invoice.sequence}.pdf"


def test_partial_payments_show_what_is_paid_and_the_balance_due():
    invoice = make_invoice(finalize=True, lines=[line("Servizio", 1, "1000", 22)])
    billing.record_payment(invoice, amount="200.00")

    text = pdf_text(pdf_for(invoice))

    assert money_it("200.00") in text and money_it("1020.00") in text


def test_the_company_logo_is_embedded_from_the_database():
    setup_company(logo=png(31, 17), logo_mime="image/png")

    assert (31, 17) in pdf_image_sizes(pdf_for(make_invoice()))


def test_a_logo_that_is_not_an_image_is_left_out():
    setup_company(logo=b"<html>not a logo</html>", logo_mime="text/html")

    assert "data:text/html" not in render_html(make_invoice())


# --- cached per document version -------------------------------------------------------------

def test_an_unchanged_document_is_rendered_once(renders):
    invoice = make_invoice(finalize=True)
    first = pdf_for(invoice)
    db.session.commit()
    db.session.expire_all()

    again = pdf_for(db.session.get(Invoice, invoice.id))

    assert again == first
    assert len(renders) == 1
    assert db.session.query(DocumentPdf).count() == 1


def test_a_changed_document_is_rendered_again(renders):
    invoice = make_invoice(lines=[line("Prima versione", 1, "100")])
    pdf_for(invoice)
    db.session.commit()

    billing.set_lines(invoice, [line("Seconda versione", 1, "150")])
    text = pdf_text(pdf_for(invoice))
    db.session.commit()

    assert len(renders) == 2
    assert "Seconda versione" in text and "Prima versione" not in text
    stored = db.session.query(DocumentPdf).one()
    assert pdf_text(stored.content) == text


def test_a_payment_or_new_bank_details_render_the_pdf_again(renders):
    invoice = make_invoice(finalize=True)
    pdf_for(invoice)
    billing.record_payment(invoice, amount="22.00")
    pdf_for(invoice)
    get_company().iban = "IT02L1234512345123456789012"
    text = pdf_text(pdf_for(invoice))

    assert len(renders) == 3
    assert "IT02L1234512345123456789012" in text


def test_a_new_deploy_of_a_shared_pdf_partial_makes_cached_pdfs_stale(app, renders):
    """The cache key covers every template under pdf/, not only the document's own."""
    from jinja2 import ChoiceLoader, DictLoader

    from app.pdf.service import template_environment

    invoice = make_invoice(finalize=True)
    before = freshness_key(invoice)
    env = template_environment()
    source = env.loader.get_source(env, "pdf/_parts.html")[0]
    original_loader = env.loader
    env.loader = ChoiceLoader([DictLoader({"pdf/_parts.html": source + "{# restyled #}"}), original_loader])
    app.extensions.pop("clientela_pdf_renderer", None)
    try:
        assert freshness_key(invoice) != before
    finally:
        env.loader = original_loader
        app.extensions.pop("clientela_pdf_renderer", None)
    assert freshness_key(invoice) == before


# --- hostile input -----------------------------------------------------------------------------

def hostile_payload(port: int, probe_path: str) -> str:
    return (
        f'<img src="http://127.0.0.1:{port}/tracker.png">'
        f'<link rel="stylesheet" href="http://127.0.0.1:{port}/style.css">'
        '<iframe src="file:///etc/passwd"></iframe>'
        f'<img src="file://{probe_path}">'
        '<meta name="pdfkit-enable-local-file-access" content="">'
        f'<meta name="pdfkit-allow" content="{probe_path}">'
        "<script>document.write('RAN' + '-JS')</script>"
    )


def test_html_in_client_and_line_fields_is_printed_as_text_and_never_acted_upon(web_server, tmp_path):
    probe = tmp_path / "probe.png"
    probe.write_bytes(png(37, 23))
    port = web_server.server_address[1]
    payload = hostile_payload(port, str(probe))
    client = make_client(f'<b>Bold</b> <img src="http://127.0.0.1:{port}/name.png">',
                         address='<iframe src="file:///etc/passwd"></iframe>',
                         city='<meta name="pdfkit-enable-local-file-access" content="">')
    invoice = make_invoice(client, lines=[line(payload, 1, "100")], notes=payload)

    pdf = pdf_for(invoice)
    text = pdf_text(pdf)

    assert web_server.hits == []  # nothing fetched
    assert "root:" not in text and (37, 23) not in pdf_image_sizes(pdf)  # nothing read
    assert "RAN-JS" not in text  # nothing executed
    # The text is printed as the user typed it, not dropped.
    assert compact('<b>Bold</b>') in compact(text)
    assert compact("<script>document.write('RAN' + '-JS')</script>") in compact(text)
    assert compact('<iframe src="file:///etc/passwd"></iframe>') in compact(text)


def test_wkhtmltopdf_itself_fetches_reads_and_runs_nothing_even_in_raw_html(web_server, tmp_path):
    """Defence in depth, below the template's escaping: raw hostile HTML straight to the renderer."""
    probe = tmp_path / "probe.png"
    probe.write_bytes(png(37, 23))
    payload = hostile_payload(web_server.server_address[1], str(probe))
    html = f"<!DOCTYPE html><html><head>{payload}</head><body><p>Fattura</p>{payload}</body></html>"

    pdf = render.html_to_pdf(html)

    assert pdf.startswith(b"%PDF-")
    assert web_server.hits == []
    assert (37, 23) not in pdf_image_sizes(pdf)  # the pdfkit-… meta did not enable file access
    assert (41, 19) not in pdf_image_sizes(pdf)
    text = pdf_text(pdf)
    assert "Fattura" in text and "RAN-JS" not in text and "root:" not in text


def test_the_renderer_ignores_pdfkit_meta_tags_and_passes_its_own_options():
    kit = render._ExplicitOptionsPDFKit(
        '<html><head><meta name="pdfkit-enable-local-file-access" content="">'
        '<meta name="pdfkit-proxy" content="">'
        '<meta name="pdfkit-post-file" content="x">'
        '</head><body></body></html>',
        "string", options=dict(render.OPTIONS), configuration=render.pdfkit.configuration(wkhtmltopdf="/bin/true"),
    )

    command = kit.command()

    assert "--enable-local-file-access" not in command and "--post-file" not in command
    assert "--disable-local-file-access" in command and "--disable-javascript" in command
    assert command[command.index("--proxy") + 1] == "http://127.0.0.1:9"


def test_finalizing_renders_the_pdf_in_a_job_after_the_commit(renders):
    invoice = make_invoice()
    db.session.commit()
    billing.finalize_invoice(invoice)
    assert renders == [], "nothing renders inside the request's transaction"
    db.session.commit()

    stored = db.session.query(DocumentPdf).filter_by(document_kind="invoice", document_id=invoice.id).one()
    assert invoice.number in pdf_text(stored.content)
    assert len(renders) == 1


# --- freshness without rendering: revisions and the ZIP --------------------------------------

def test_the_revision_moves_with_what_is_printed_and_not_with_a_view():
    invoice = make_invoice(lines=[line("Prima versione", 1, "100")])
    db.session.commit()
    seen = [invoice.revision]

    def moved() -> bool:
        db.session.commit()
        seen.append(invoice.revision)
        return seen[-1] > seen[-2]

    invoice.viewed_at = dt.datetime(2026, 1, 2, 3, 4)
    assert not moved(), "opening a document does not change its PDF"
    billing.set_lines(invoice, [line("Stesso importo, altra descrizione", 1, "100")])
    assert moved()
    billing.finalize_invoice(invoice)
    assert moved()
    billing.record_payment(invoice, amount="10.00")
    assert moved()
    invoice.notes = "Grazie"
    assert moved()


def _download(web, ids):
    response = web.post("/portal/invoices/download", data={"ids": [str(pk) for pk in ids]})
    assert response.status_code == 200, response.status_code
    archive = zipfile.ZipFile(io.BytesIO(response.data))
    return [archive.read(name) for name in archive.namelist()]


def test_a_zip_of_cached_pdfs_renders_only_the_invoice_that_changed(web, renders):
    client, contact = portal_client("Rossi S.r.l.", "giulia@rossi.it")
    invoices = [portal_invoice(client, amount=amount) for amount in ("100.00", "200.00", "300.00")]
    db.session.commit()  # the finalize jobs render each PDF once
    assert len(renders) == 3
    sign_in(web, contact)

    assert len(_download(web, [invoice.id for invoice in invoices])) == 3
    assert len(renders) == 3, "cached PDFs are streamed as stored"

    changed = db.session.get(Invoice, invoices[1].id)
    changed.notes = "Bonifico ricevuto, grazie"
    db.session.commit()
    members = _download(web, [invoice.id for invoice in invoices])

    assert len(renders) == 4
    assert "Bonifico ricevuto" in pdf_text(members[1])
    assert "Bonifico ricevuto" not in pdf_text(members[0])
    _download(web, [invoice.id for invoice in invoices])
    assert len(renders) == 4, "the fresh render was kept"


def test_a_zip_reads_stored_pdfs_in_batches_not_one_query_per_invoice(web, renders):
    from tests.support.queries import add_documents, counted_statements

    client, contact = portal_client("Rossi S.r.l.", "giulia@rossi.it")
    db.session.commit()
    add_documents(client.id, 72, 0)
    sign_in(web, contact)
    invoices = db.session.scalars(
        select(Invoice).where(Invoice.client_id == client.id, Invoice.status != "draft").order_by(Invoice.id)
    ).all()
    for invoice in invoices:  # stored as the render job would, each with its own bytes
        db.session.add(DocumentPdf(document_kind="invoice", document_id=invoice.id, content_hash="-",
                                   source_key=freshness_key(invoice), content=f"%PDF-{invoice.id}".encode()))
    db.session.commit()
    ids = [invoice.id for invoice in invoices]

    def statements(count: int) -> int:
        with counted_statements() as counter:
            members = _download(web, ids[:count])
        assert members == [f"%PDF-{pk}".encode() for pk in ids[:count]]
        return counter["n"]

    _download(web, ids)  # the first download records each view once
    few, many = statements(3), statements(len(ids))
    assert renders == []
    assert len(ids) > 2 * STORED_BATCH
    assert many <= few + len(ids) // STORED_BATCH


# --- concurrency: one render, and nobody fails because somebody else won -----------------------

def _finalized_without_pdf() -> int:
    invoice = make_invoice(finalize=True)
    db.session.commit()  # the inline render job stores its PDF: drop it, as if not yet run
    db.session.query(DocumentPdf).delete()
    db.session.commit()
    return invoice.id


def _in_two_workers(app, invoice_id: int) -> list:
    """`pdf_for` of the invoice in two threads at once, each with its own app context and
    session, each committing; returns what each returned (or raised)."""
    results: list = []
    start = threading.Barrier(2)

    def worker() -> None:
        with app.app_context():
            start.wait()
            try:
                results.append(pdf_for(db.session.get(Invoice, invoice_id)))
                db.session.commit()
            except Exception as exc:  # the callers' assertions show it
                results.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_two_workers_asking_for_a_new_pdf_at_once_render_it_once(app, renders, monkeypatch):
    """With Redis, the render is leased: the second worker waits for the first one's row."""
    invoice_id = _finalized_without_pdf()
    renders.clear()  # the render job finalizing ran inline
    monkeypatch.setitem(app.config, "REDIS_URL", os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/15")
    monkeypatch.setitem(app.config, "JOBS_QUEUE", f"clientela-test-{uuid.uuid4().hex[:10]}")
    results = _in_two_workers(app, invoice_id)

    assert len(renders) == 1
    db.session.expire_all()
    stored = db.session.query(DocumentPdf).one()
    assert results == [stored.content, stored.content]


def test_without_a_lease_the_loser_of_the_first_insert_reads_the_winners_row(app, monkeypatch):
    """Two renders finishing together (no Redis to lease with): one row, both callers get it."""
    invoice_id = _finalized_without_pdf()
    both_rendered = threading.Barrier(2)
    real = render.html_to_pdf

    def render_together(html: str) -> bytes:
        pdf = real(html)
        both_rendered.wait(timeout=30)  # both have seen no row and rendered: now both insert
        return pdf

    monkeypatch.setattr(render, "html_to_pdf", render_together)
    results = _in_two_workers(app, invoice_id)

    db.session.expire_all()
    stored = db.session.query(DocumentPdf).one()
    assert results == [stored.content, stored.content]


def test_the_invoice_pdf_prints_the_tax_blocks_and_the_net_to_pay():
    company = get_company()
    company.withholding_rate, company.pension_fund_type, company.pension_fund_rate = Decimal("20"), "TC22", Decimal("4")
    invoice = make_invoice(finalize=True, lines=[line("Parcella", 1, "1000", 22),
                                                 line("Formazione", 1, "100", 0, vat_nature="N4")])

    text = pdf_text(pdf_for(invoice))

    with force_locale("it"):
        for label in ("Ritenuta d'acconto", "Contributo cassa previdenziale", "Netto a pagare", "Imposta di bollo"):
            assert label in text, label
    assert money_it("44.00") in text  # INPS 4 % of the fees (1100)
    assert money_it(str(invoice.net_to_pay)) in text
    assert "N4" in text and "art. 10 DPR 633/72" in text  # the nature and its default reference


def test_a_credit_note_pdf_names_the_invoice_it_credits_and_its_reason():
    invoice = make_invoice(finalize=True, lines=[line("Servizio", 1, "1000", 22)])
    note = billing.create_credit_note(invoice, "Reso della merce")
    billing.finalize_credit_note(note)

    text = pdf_text(pdf_for(note))

    assert "Nota di credito" in text and note.number in text and invoice.number in text
    assert "Reso della merce" in text and money_it("1220.00") in text
    assert pdf_filename(note) == f"Nota_di_credito_{note.number.replace('/', '-')}.pdf"
