"""The FatturaPA 1.2.3 XML of one document, from plain values (no database, no Flask).

`services.snapshot` copies an invoice or credit note, the company and the VAT summary into
these records; `build` writes the elements in the XSD's order. Every amount comes from the
stored totals: nothing here adds up or rounds money, it only formats it (2 decimals for amounts,
2 to 8 for prices and quantities, 2 for rates), so the file says what the PDF says.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from lxml import etree

from app.einvoice.text import code, latin1

NAMESPACE = "http://ivaservizi.agenziaentrate.gov.it/docs/xsd/fatture/v1.2"
XMLDSIG = "http://www.w3.org/2000/09/xmldsig#"
PRIVATE_BUYER_CODE = "0000000"  # no SdI code: private persons, and businesses known by PEC only
FOREIGN_BUYER_CODE = "XXXXXXX"
FOREIGN_POSTAL_CODE = "00000"

BUSINESS = "business"
INDIVIDUAL = "individual"
PUBLIC_ADMINISTRATION = "public_administration"


@dataclass(frozen=True)
class Party:
    name: str
    address: str
    city: str
    province: str
    postal_code: str
    country: str
    vat_number: str
    tax_code: str


@dataclass(frozen=True)
class Seller(Party):
    regime_fiscale: str
    email: str = ""
    phone: str = ""
    iban: str = ""
    bank_name: str = ""


@dataclass(frozen=True)
class Buyer(Party):
    kind: str = BUSINESS
    sdi_code: str = ""
    pec: str = ""


@dataclass(frozen=True)
class Line:
    description: str
    quantity: Decimal
    unit_price: Decimal
    discount: Decimal
    tax_rate: Decimal
    amount: Decimal
    nature: str = ""
    withholding: bool = False


@dataclass(frozen=True)
class Summary:
    rate: Decimal
    nature: str
    reference: str
    taxable: Decimal
    tax: Decimal


@dataclass(frozen=True)
class Withholding:
    type: str
    rate: Decimal
    amount: Decimal
    reason: str


@dataclass(frozen=True)
class PensionFund:
    type: str
    rate: Decimal
    amount: Decimal
    tax_rate: Decimal
    nature: str = ""
    withholding: bool = False


@dataclass(frozen=True)
class LinkedInvoice:
    number: str
    issue_date: dt.date


@dataclass(frozen=True)
class Document:
    document_type: str  # TD01 invoice, TD04 credit note
    number: str
    issue_date: dt.date
    currency: str
    total: Decimal
    net_to_pay: Decimal
    lines: tuple[Line, ...]
    summary: tuple[Summary, ...]
    due_date: dt.date | None = None
    withholding: Withholding | None = None
    pension_fund: PensionFund | None = None
    stamp_duty: Decimal = Decimal("0.00")
    split_payment: bool = False
    reasons: tuple[str, ...] = field(default_factory=tuple)  # Causale
    linked_invoice: LinkedInvoice | None = None


def transmission_format(buyer: Buyer) -> str:
    return "FPA12" if buyer.kind == PUBLIC_ADMINISTRATION else "FPR12"


def is_foreign(party: Party) -> bool:
    return (party.country or "IT").upper() != "IT"


def vat_code(party: Party) -> str:
    """The VAT number without its country prefix (users type "IT01234567890" as often as not)."""
    number = code(party.vat_number, 30)
    country = (party.country or "IT").upper()
    return number[2:] if number.startswith(country) and len(number) > 2 else number


def recipient_code(buyer: Buyer) -> str:
    """CodiceDestinatario: the office code (PA, 6), the SdI code (7), XXXXXXX abroad, else 0000000."""
    if is_foreign(buyer):
        return FOREIGN_BUYER_CODE
    sdi_code = code(buyer.sdi_code, 7)
    if buyer.kind == PUBLIC_ADMINISTRATION:
        return sdi_code
    return sdi_code if len(sdi_code) == 7 and sdi_code != PRIVATE_BUYER_CODE else PRIVATE_BUYER_CODE


def amount(value: Decimal) -> str:
    return f"{Decimal(value):.2f}"


def price(value: Decimal) -> str:
    """2 to 8 decimals: what the user typed, never rounded to the cent here."""
    value = Decimal(value).normalize()
    decimals = max(2, min(8, -value.as_tuple().exponent if value.as_tuple().exponent < 0 else 0))
    return f"{value:.{decimals}f}"


def _sub(parent: etree._Element, tag: str, text: str | None = None) -> etree._Element:
    element = etree.SubElement(parent, tag)
    if text is not None:
        element.text = text
    return element


def _address(parent: etree._Element, party: Party) -> None:
    sede = _sub(parent, "Sede")
    _sub(sede, "Indirizzo", latin1(party.address, 60))
    foreign = is_foreign(party)
    postal_code = code(party.postal_code, 10)
    _sub(sede, "CAP", FOREIGN_POSTAL_CODE if foreign or not (len(postal_code) == 5 and postal_code.isdigit())
         else postal_code)
    _sub(sede, "Comune", latin1(party.city, 60))
    province = code(party.province, 2)
    if not foreign and len(province) == 2 and province.isalpha():
        _sub(sede, "Provincia", province)
    _sub(sede, "Nazione", (party.country or "IT").upper())


def _tax_ids(parent: etree._Element, party: Party, *, vat: bool = True) -> None:
    number = vat_code(party)
    if vat and number:
        ids = _sub(parent, "IdFiscaleIVA")
        _sub(ids, "IdPaese", (party.country or "IT").upper())
        _sub(ids, "IdCodice", number[:28])
    tax_code = code(party.tax_code, 16)
    if tax_code and not is_foreign(party) and 11 <= len(tax_code) <= 16:
        _sub(parent, "CodiceFiscale", tax_code)


def _header(root: etree._Element, document: Document, seller: Seller, buyer: Buyer,
            transmitter: str, progressive: str) -> None:
    header = _sub(root, "FatturaElettronicaHeader")
    transmission = _sub(header, "DatiTrasmissione")
    transmitter_ids = _sub(transmission, "IdTrasmittente")
    _sub(transmitter_ids, "IdPaese", "IT")
    _sub(transmitter_ids, "IdCodice", transmitter)
    _sub(transmission, "ProgressivoInvio", progressive)
    _sub(transmission, "FormatoTrasmissione", transmission_format(buyer))
    recipient = recipient_code(buyer)
    _sub(transmission, "CodiceDestinatario", recipient)
    pec = latin1(buyer.pec, 256, basic=True)
    if recipient == PRIVATE_BUYER_CODE and "@" in pec and len(pec) >= 7:
        _sub(transmission, "PECDestinatario", pec)

    cedente = _sub(header, "CedentePrestatore")
    registry = _sub(cedente, "DatiAnagrafici")
    _tax_ids(registry, seller)
    _sub(_sub(registry, "Anagrafica"), "Denominazione", latin1(seller.name, 80))
    _sub(registry, "RegimeFiscale", seller.regime_fiscale or "RF01")
    _address(cedente, seller)
    phone = latin1(seller.phone, 12, basic=True)
    email = latin1(seller.email, 256, basic=True)
    email = email if "@" in email and len(email) >= 7 else ""  # EmailType: 7 to 256 characters
    if len(phone) >= 5 or email:
        contacts = _sub(cedente, "Contatti")
        if len(phone) >= 5:
            _sub(contacts, "Telefono", phone)
        if email:
            _sub(contacts, "Email", email)

    cessionario = _sub(header, "CessionarioCommittente")
    registry = _sub(cessionario, "DatiAnagrafici")
    if is_foreign(buyer):
        # A foreign buyer without a VAT number (a private person abroad) is identified by
        # country and the conventional 99999999999, as the Agenzia's FAQ says.
        ids = _sub(registry, "IdFiscaleIVA")
        _sub(ids, "IdPaese", buyer.country.upper())
        _sub(ids, "IdCodice", (vat_code(buyer) or "99999999999")[:28])
    else:
        _tax_ids(registry, buyer, vat=buyer.kind != INDIVIDUAL)
    _sub(_sub(registry, "Anagrafica"), "Denominazione", latin1(buyer.name, 80))
    _address(cessionario, buyer)


def _general(body: etree._Element, document: Document) -> None:
    general = _sub(body, "DatiGenerali")
    data = _sub(general, "DatiGeneraliDocumento")
    _sub(data, "TipoDocumento", document.document_type)
    _sub(data, "Divisa", document.currency)
    _sub(data, "Data", document.issue_date.isoformat())
    _sub(data, "Numero", latin1(document.number, 20, basic=True))
    if document.withholding is not None:
        withholding = _sub(data, "DatiRitenuta")
        _sub(withholding, "TipoRitenuta", document.withholding.type)
        _sub(withholding, "ImportoRitenuta", amount(document.withholding.amount))
        _sub(withholding, "AliquotaRitenuta", amount(document.withholding.rate))
        _sub(withholding, "CausalePagamento", document.withholding.reason)
    if document.stamp_duty > 0:
        stamp = _sub(data, "DatiBollo")
        _sub(stamp, "BolloVirtuale", "SI")
        _sub(stamp, "ImportoBollo", amount(document.stamp_duty))
    if document.pension_fund is not None:
        fund = document.pension_fund
        cassa = _sub(data, "DatiCassaPrevidenziale")
        _sub(cassa, "TipoCassa", fund.type)
        _sub(cassa, "AlCassa", amount(fund.rate))
        _sub(cassa, "ImportoContributoCassa", amount(fund.amount))
        _sub(cassa, "AliquotaIVA", amount(fund.tax_rate))
        if fund.withholding:
            _sub(cassa, "Ritenuta", "SI")
        if fund.nature:
            _sub(cassa, "Natura", fund.nature)
    _sub(data, "ImportoTotaleDocumento", amount(document.total))
    for reason in document.reasons:
        text = latin1(reason)
        while text:  # Causale is 200 characters; the schema allows as many as needed
            _sub(data, "Causale", text[:200].rstrip())
            text = text[200:].lstrip()
    if document.linked_invoice is not None:
        linked = _sub(general, "DatiFattureCollegate")
        _sub(linked, "IdDocumento", latin1(document.linked_invoice.number, 20))
        _sub(linked, "Data", document.linked_invoice.issue_date.isoformat())


def _goods(body: etree._Element, document: Document) -> None:
    goods = _sub(body, "DatiBeniServizi")
    for number, line in enumerate(document.lines, start=1):
        detail = _sub(goods, "DettaglioLinee")
        _sub(detail, "NumeroLinea", str(number))
        _sub(detail, "Descrizione", latin1(line.description, 1000) or "-")
        _sub(detail, "Quantita", price(line.quantity))
        _sub(detail, "PrezzoUnitario", price(line.unit_price))
        if line.discount:
            discount = _sub(detail, "ScontoMaggiorazione")
            _sub(discount, "Tipo", "SC")
            _sub(discount, "Percentuale", amount(line.discount))
        _sub(detail, "PrezzoTotale", amount(line.amount))
        _sub(detail, "AliquotaIVA", amount(line.tax_rate))
        if line.withholding:
            _sub(detail, "Ritenuta", "SI")
        if line.nature:
            _sub(detail, "Natura", line.nature)
    for block in document.summary:
        summary = _sub(goods, "DatiRiepilogo")
        _sub(summary, "AliquotaIVA", amount(block.rate))
        if block.nature:
            _sub(summary, "Natura", block.nature)
        _sub(summary, "ImponibileImporto", amount(block.taxable))
        _sub(summary, "Imposta", amount(block.tax))
        if block.rate > 0:
            _sub(summary, "EsigibilitaIVA", "S" if document.split_payment else "I")
        if block.nature and block.reference:
            _sub(summary, "RiferimentoNormativo", latin1(block.reference, 100))


def _payment(body: etree._Element, document: Document, seller: Seller) -> None:
    if document.document_type == "TD04":
        return  # a credit note asks for no payment
    payment = _sub(body, "DatiPagamento")
    _sub(payment, "CondizioniPagamento", "TP02")  # paid in full, at once
    detail = _sub(payment, "DettaglioPagamento")
    iban = code(seller.iban, 34)
    _sub(detail, "ModalitaPagamento", "MP05" if iban else "MP01")  # bank transfer, else cash
    if document.due_date is not None:
        _sub(detail, "DataScadenzaPagamento", document.due_date.isoformat())
    _sub(detail, "ImportoPagamento", amount(document.net_to_pay))
    if iban:
        if seller.bank_name:
            _sub(detail, "IstitutoFinanziario", latin1(seller.bank_name, 80))
        _sub(detail, "IBAN", iban)


def build(document: Document, seller: Seller, buyer: Buyer, *, transmitter: str, progressive: str) -> bytes:
    """The file's bytes (UTF-8 with its declaration), elements in the order the XSD requires."""
    root = etree.Element(etree.QName(NAMESPACE, "FatturaElettronica"), nsmap={"p": NAMESPACE, "ds": XMLDSIG},
                         versione=transmission_format(buyer))
    _header(root, document, seller, buyer, transmitter, progressive)
    body = _sub(root, "FatturaElettronicaBody")
    _general(body, document)
    _goods(body, document)
    _payment(body, document, seller)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")
