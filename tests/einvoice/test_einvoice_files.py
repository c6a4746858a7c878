"""Every FatturaPA file Clientela hands out validates against the vendored 1.2.3 schema and
says what the stored document says: buyers of every kind, the Italian tax blocks, credit
notes, hostile text; the same bytes every time."""
from __future__ import annotations

import datetime as dt
import io
import zipfile
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from app.billing import services as billing
from app.einvoice import services as einvoice
from app.einvoice.schema import schema_errors
from app.extensions import db
from tests.support.einvoice import italian_company
from tests.support.factories import STAFF_PASSWORD, make_client, make_invoice, make_staff_user

NS = {"p": "http://ivaservizi.agenziaentrate.gov.it/docs/xsd/fatture/v1.2"}
ISSUE = dt.date(2026, 11, 20)


def issued(client=None, lines=None, **options):
    invoice = make_invoice(client or make_client(), lines=lines or ({"description": "Consulenza", "quantity": "1",
                                                                    "unit_price": "100.00", "tax_rate": "22"},),
                           issue_date=ISSUE, **options)
    billing.finalize_invoice(invoice)
    db.session.flush()
    return invoice


def xml_of(document) -> etree._Element:
    file = einvoice.current_file(document)
    assert file is not None
    assert schema_errors(file.content) == []
    return etree.fromstring(file.content)


def text(root, path: str) -> str:
    return root.findtext(path, namespaces=NS)


def texts(root, path: str) -> list[str]:
    return [element.text for element in root.iterfind(path, namespaces=NS)]


@pytest.fixture
def api(web):
    user = make_staff_user("Billing")
    db.session.commit()
    response = web.post("/api/v1/security/login", json={"username": user.username, "password": STAFF_PASSWORD,
                                                         "provider": "db", "refresh": False})
    return {"Authorization": f"Bearer {response.get_json()['access_token']}"}


def test_a_b2b_invoice_with_several_rates_and_a_discount(web, api):
    italian_company()
    client = make_client(sdi_code="ABC1234")
    invoice = issued(client, [
        {"description": "Consulenza", "quantity": "3", "unit_price": "120.00", "discount": "10", "tax_rate": "22"},
        {"description": "Libro", "quantity": "2", "unit_price": "15.50", "tax_rate": "4"},
        {"description": "Corso esente", "quantity": "1", "unit_price": "50.00", "tax_rate": "0",
         "vat_nature": "N4"},
    ])
    db.session.commit()
    root = xml_of(invoice)
    assert root.get("versione") == "FPR12"
    assert text(root, ".//CodiceDestinatario") == "ABC1234"
    assert text(root, ".//CessionarioCommittente//IdFiscaleIVA/IdCodice") == client.vat_number
    assert text(root, ".//ImportoTotaleDocumento") == f"{invoice.total:.2f}"
    assert texts(root, ".//DettaglioLinee/PrezzoTotale") == ["324.00", "31.00", "50.00"]
    assert texts(root, ".//DettaglioLinee/ScontoMaggiorazione/Percentuale") == ["10.00"]
    blocks = {(b.findtext("AliquotaIVA"), b.findtext("Natura")): (b.findtext("ImponibileImporto"), b.findtext("Imposta"))
              for b in root.iterfind(".//DatiRiepilogo")}
    assert blocks == {("0.00", "N4"): ("50.00", "0.00"), ("4.00", None): ("31.00", "1.24"),
                      ("22.00", None): ("324.00", "71.28")}
    assert text(root, ".//DatiRiepilogo[Natura='N4']/RiferimentoNormativo").startswith("Esente art. 10")
    assert text(root, ".//ImportoPagamento") == f"{invoice.net_to_pay:.2f}"
    assert text(root, ".//IBAN") == "IT60X0542811101000000123456"

    first = web.get(f"/api/v1/invoice/{invoice.id}/fatturapa", headers=api)
    assert first.status_code == 200 and first.mimetype == "application/xml"
    assert first.headers["Content-Disposition"] == f'attachment; filename="{invoice.sdi_file_name}"'
    assert invoice.sdi_file_name.startswith("IT01234567890_") and len(invoice.sdi_file_name) == len("IT01234567890_00001.xml")
    assert web.get(f"/api/v1/invoice/{invoice.id}/fatturapa", headers=api).data == first.data
    assert schema_errors(first.data) == []


def test_a_draft_has_no_file(web, api):
    italian_company()
    draft = make_invoice(make_client())
    db.session.commit()
    assert web.get(f"/api/v1/invoice/{draft.id}/fatturapa", headers=api).status_code == 409
    assert web.get("/api/v1/invoice/999999/fatturapa", headers=api).status_code == 404
    assert web.get(f"/api/v1/invoice/{draft.id}/fatturapa").status_code == 401


def test_a_private_person_has_a_tax_code_only_and_0000000():
    italian_company()
    invoice = issued(make_client("Mario Rossi", kind="individual"))
    root = xml_of(invoice)
    assert text(root, ".//CodiceDestinatario") == "0000000"
    assert root.find(".//CessionarioCommittente//IdFiscaleIVA", NS) is None
    assert text(root, ".//CessionarioCommittente//CodiceFiscale") == "RSSMRA85T10A562S"


def test_a_business_known_by_pec_only():
    italian_company()
    invoice = issued(make_client(pec="fatture@pec.cliente.it"))
    root = xml_of(invoice)
    assert text(root, ".//CodiceDestinatario") == "0000000"
    assert text(root, ".//PECDestinatario") == "fatture@pec.cliente.it"


def test_a_foreign_buyer_gets_xxxxxxx_and_cap_00000():
    italian_company()
    client = make_client("Muster GmbH", country="DE", vat_number="DE136695976", province="", postal_code="10115",
                         city="Berlin")
    invoice = issued(client, [{"description": "Servizi", "quantity": "1", "unit_price": "500.00", "tax_rate": "0",
                               "vat_nature": "N2.1"}])
    root = xml_of(invoice)
    assert text(root, ".//CodiceDestinatario") == "XXXXXXX"
    assert text(root, ".//CessionarioCommittente//IdFiscaleIVA/IdPaese") == "DE"
    assert text(root, ".//CessionarioCommittente//IdFiscaleIVA/IdCodice") == "136695976"
    assert text(root, ".//CessionarioCommittente/Sede/CAP") == "00000"
    assert text(root, ".//CessionarioCommittente/Sede/Nazione") == "DE"


def test_a_public_administration_gets_fpa12_and_split_payment():
    italian_company()
    client = make_client("Comune di Prova", kind="public_administration", tax_code="07654320154",
                         sdi_code="UFABC1", split_payment=True)
    invoice = issued(client)
    root = xml_of(invoice)
    assert root.get("versione") == "FPA12"
    assert text(root, ".//FormatoTrasmissione") == "FPA12"
    assert text(root, ".//CodiceDestinatario") == "UFABC1"
    assert text(root, ".//EsigibilitaIVA") == "S"
    assert invoice.net_to_pay == Decimal("100.00")
    assert text(root, ".//ImportoTotaleDocumento") == "122.00"
    assert text(root, ".//ImportoPagamento") == "100.00"


def test_withholding_and_the_inps_contribution():
    italian_company(withholding_rate=Decimal("20.00"), withholding_type="RT01", withholding_reason="A",
                    pension_fund_type="TC22", pension_fund_rate=Decimal("4.00"), pension_fund_tax_rate=Decimal("22.00"),
                    regime_fiscale="RF01")
    invoice = issued(make_client(withholding_agent=True), [
        {"description": "Progetto", "quantity": "1", "unit_price": "1000.00", "tax_rate": "22"}])
    root = xml_of(invoice)
    assert text(root, ".//DatiRitenuta/TipoRitenuta") == "RT01"
    assert text(root, ".//DatiRitenuta/ImportoRitenuta") == f"{invoice.withholding_amount:.2f}" == "208.00"
    assert text(root, ".//DatiRitenuta/CausalePagamento") == "A"
    assert text(root, ".//DatiCassaPrevidenziale/TipoCassa") == "TC22"
    assert text(root, ".//DatiCassaPrevidenziale/ImportoContributoCassa") == "40.00"
    assert text(root, ".//DatiCassaPrevidenziale/Ritenuta") == "SI"
    assert texts(root, ".//DettaglioLinee/Ritenuta") == ["SI"]
    assert text(root, ".//DatiRiepilogo/ImponibileImporto") == "1040.00"
    assert text(root, ".//ImportoTotaleDocumento") == "1268.80"
    assert text(root, ".//ImportoPagamento") == f"{invoice.net_to_pay:.2f}" == "1060.80"


def test_a_flat_rate_freelancer_over_the_stamp_threshold():
    italian_company(regime_fiscale="RF19", pension_fund_type="TC22", pension_fund_rate=Decimal("4.00"),
                    pension_fund_tax_rate=Decimal("0.00"), stamp_duty="auto", stamp_duty_charged_to_client=True)
    invoice = issued(make_client(kind="individual"), [
        {"description": "Sito web", "quantity": "1", "unit_price": "800.00", "tax_rate": "0", "vat_nature": "N2.2"}])
    root = xml_of(invoice)
    assert text(root, ".//RegimeFiscale") == "RF19"
    assert text(root, ".//DatiBollo/BolloVirtuale") == "SI"
    assert text(root, ".//DatiBollo/ImportoBollo") == "2.00"
    assert text(root, ".//DatiCassaPrevidenziale/Natura") == "N2.2"
    assert texts(root, ".//DettaglioLinee/Natura") == ["N2.2", "N1"]  # the stamp charged back is a line
    assert text(root, ".//DatiRiepilogo[Natura='N2.2']/ImponibileImporto") == "832.00"
    assert text(root, ".//DatiRiepilogo[Natura='N1']/ImponibileImporto") == "2.00"
    assert text(root, ".//ImportoTotaleDocumento") == f"{invoice.total:.2f}" == "834.00"


def test_no_stamp_duty_under_the_threshold():
    italian_company(regime_fiscale="RF19", stamp_duty="auto")
    invoice = issued(make_client(kind="individual"), [
        {"description": "Consulenza breve", "quantity": "1", "unit_price": "77.47", "tax_rate": "0",
         "vat_nature": "N2.2"}])
    root = xml_of(invoice)
    assert root.find(".//DatiBollo", NS) is None
    assert text(root, ".//ImportoTotaleDocumento") == "77.47"


def test_a_credit_note_is_td04_and_names_its_invoice(web, api):
    italian_company()
    invoice = issued()
    note = billing.create_credit_note(invoice, "Sconto concordato – “fine anno”")
    note.issue_date = ISSUE + dt.timedelta(days=3)
    billing.finalize_credit_note(note)
    db.session.commit()
    root = xml_of(note)
    assert text(root, ".//TipoDocumento") == "TD04"
    assert text(root, ".//DatiFattureCollegate/IdDocumento") == invoice.number
    assert text(root, ".//DatiFattureCollegate/Data") == ISSUE.isoformat()
    assert text(root, ".//Causale") == 'Sconto concordato - "fine anno"'
    response = web.get(f"/api/v1/credit-note/{note.id}/fatturapa", headers=api)
    assert response.status_code == 200 and schema_errors(response.data) == []


def test_hostile_and_non_latin_text_never_breaks_the_schema():
    italian_company(legal_name="Caffè “Ñandú” – 株式会社 🚀")
    client = make_client("Ελληνική Εταιρεία 😀 “Quote” — <b>&amp;</b>")
    invoice = issued(client, [{"description": "Prezzo € 100 – ‘speciale’ 🎉 \x07 " + "x" * 1200,
                               "quantity": "1", "unit_price": "10.00", "tax_rate": "22"}])
    root = xml_of(invoice)
    assert text(root, ".//CedentePrestatore//Denominazione") == 'Caffè "Ñandú" -'
    description = text(root, ".//DettaglioLinee/Descrizione")
    assert description.startswith("Prezzo EUR 100 - 'speciale'") and len(description) <= 1000
    assert text(root, ".//CessionarioCommittente//Denominazione").endswith('"Quote" - <b>&amp;</b>')


def test_export_zip_holds_the_period_files(web, api):
    italian_company()
    inside = issued()
    outside = make_invoice(make_client(), issue_date=dt.date(2026, 10, 31))
    billing.finalize_invoice(outside)
    db.session.commit()
    response = web.get("/api/v1/einvoice/export?from=2026-11-01&to=2026-11-30", headers=api)
    assert response.status_code == 200 and response.mimetype == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(response.data))
    assert archive.namelist() == [inside.sdi_file_name]
    for name in archive.namelist():
        assert schema_errors(archive.read(name)) == []
    assert web.get("/api/v1/einvoice/export?from=2026-13-01&to=x", headers=api).status_code == 400


def test_file_names_are_unique_and_progressive():
    italian_company()
    names = [issued().sdi_file_name for _ in range(3)]
    assert names == sorted(names) and len(set(names)) == 3


def test_without_a_vat_number_no_file_is_made():
    """A fresh install (no company VAT number) finalizes as before; the SdI page says why."""
    italian_company(vat_number="", tax_code="")
    invoice = issued()
    assert invoice.status == "sent" and einvoice.current_file(invoice) is None


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    lines=st.lists(st.tuples(
        st.decimals(min_value=Decimal("0.001"), max_value=Decimal("500"), places=3),
        st.decimals(min_value=Decimal("0.01"), max_value=Decimal("5000"), places=2),
        st.sampled_from(["0", "5", "10", "22"]),
        st.sampled_from(["0", "0", "12.5", "50"]),
    ), min_size=1, max_size=5),
    withholding=st.sampled_from([Decimal("0"), Decimal("20")]),
    fund=st.sampled_from(["", "TC22"]),
    split=st.booleans(),
)
def test_property_the_xml_agrees_with_the_stored_totals(lines, withholding, fund, split):
    italian_company(withholding_rate=withholding, pension_fund_type=fund,
                    pension_fund_rate=Decimal("4.00") if fund else Decimal("0"), pension_fund_tax_rate=Decimal("22.00"),
                    stamp_duty="auto", stamp_duty_charged_to_client=True)
    client = make_client(withholding_agent=bool(withholding), split_payment=split)
    invoice = issued(client, [{"description": "Voce", "quantity": str(q), "unit_price": str(p), "tax_rate": r,
                               "discount": d, "vat_nature": "" if r != "0" else "N4"} for q, p, r, d in lines])
    root = xml_of(invoice)
    assert Decimal(text(root, ".//ImportoTotaleDocumento")) == invoice.total
    assert Decimal(text(root, ".//ImportoPagamento")) == invoice.net_to_pay
    taxable = [Decimal(v) for v in texts(root, ".//DatiRiepilogo/ImponibileImporto")]
    tax = [Decimal(v) for v in texts(root, ".//DatiRiepilogo/Imposta")]
    assert sum(tax) == invoice.tax_total
    assert sum(taxable) + sum(tax) == invoice.total
    # SdI 00422: each block's taxable is its lines' PrezzoTotale (+ the pension fund at its rate).
    for block in root.iterfind(".//DatiRiepilogo", NS):
        rate, nature = block.findtext("AliquotaIVA"), block.findtext("Natura")
        lines_sum = sum((Decimal(line.findtext("PrezzoTotale")) for line in root.iterfind(".//DettaglioLinee", NS)
                         if line.findtext("AliquotaIVA") == rate and line.findtext("Natura") == nature), Decimal(0))
        fund_sum = sum((Decimal(c.findtext("ImportoContributoCassa")) for c in root.iterfind(".//DatiCassaPrevidenziale", NS)
                        if c.findtext("AliquotaIVA") == rate and c.findtext("Natura") == nature), Decimal(0))
        assert abs(lines_sum + fund_sum - Decimal(block.findtext("ImponibileImporto"))) <= Decimal("1.00")
        # SdI 00421: tax = taxable × rate, to the cent.
        expected = (Decimal(block.findtext("ImponibileImporto")) * Decimal(rate) / 100).quantize(Decimal("0.01"))
        assert abs(expected - Decimal(block.findtext("Imposta"))) <= Decimal("0.01")
    db.session.rollback()


@pytest.mark.postgres_only
def test_files_finalized_concurrently_get_unique_names(app):
    from app.billing.models import Invoice
    from tests.support.factories import run_concurrently

    italian_company()
    ids = [make_invoice(make_client()).id for _ in range(10)]
    db.session.commit()

    def finalize(index: int) -> str:
        invoice = db.session.get(Invoice, ids[index])
        billing.finalize_invoice(invoice)
        db.session.commit()
        return invoice.sdi_file_name

    names = run_concurrently(app, 10, finalize)
    assert all(isinstance(name, str) for name in names), names
    assert len(set(names)) == 10
    assert sorted(name[-9:-4] for name in names) == [f"0000{n}" if n < 10 else "0000A" for n in range(1, 11)]
