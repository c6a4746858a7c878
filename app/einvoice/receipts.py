"""SdI's receipts and notifications, read leniently.

SdI signs each message (XAdES, a mandatory `ds:Signature`); Clientela does not verify it:
a receipt changes only the state of a file it names, and it names it by `NomeFile`, which an
attacker who can post receipts could not use to do more than mark an invoice delivered. The
XML itself is parsed safely (app.einvoice.schema.parse: no DTD, no entities, no network).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from lxml import etree

from app.einvoice.schema import parse

# Root element → (the short name SdI uses in file names, the state it leads to).
RECEIPT_KINDS = {
    "RicevutaConsegna": ("RC", "delivered"),
    "NotificaScarto": ("NS", "rejected"),
    "NotificaMancataConsegna": ("MC", "not_delivered"),
    "NotificaEsito": ("NE", None),  # accepted or refused, by the buyer's Esito
    "NotificaDecorrenzaTermini": ("DT", "expired"),
    "AttestazioneTrasmissioneFattura": ("AT", "not_delivered"),
}
BUYER_OUTCOMES = {"EC01": "accepted", "EC02": "refused"}


class MalformedReceipt(ValueError):
    """Not XML, not one of SdI's receipts, or a receipt without the fields it must carry."""


@dataclass(frozen=True)
class Receipt:
    kind: str  # RC, NS, MC, NE, DT, AT
    file_name: str  # NomeFile without ".p7m": the name of the file we sent
    sdi_id: str
    message_id: str
    status: str
    errors: list[dict[str, str]] = field(default_factory=list)


def _child_text(element: etree._Element, *path: str) -> str:
    """The text at a path of local names (receipts put children in no namespace, but some
    intermediaries qualify them: match by local name)."""
    for name in path:
        element = next((child for child in element if isinstance(child.tag, str)
                        and etree.QName(child).localname == name), None)
        if element is None:
            return ""
    return (element.text or "").strip()


def _children(element: etree._Element, name: str) -> list[etree._Element]:
    return [child for child in element if isinstance(child.tag, str) and etree.QName(child).localname == name]


def parse_receipt(content: bytes) -> Receipt:
    """The receipt in `content`; raises MalformedReceipt (or schema.UnsafeXml for a DOCTYPE)."""
    try:
        root = parse(content)
    except etree.XMLSyntaxError as exc:
        raise MalformedReceipt(f"not well-formed XML: {exc}") from exc
    root_name = etree.QName(root).localname
    if root_name not in RECEIPT_KINDS:
        raise MalformedReceipt(f"{root_name} is not a receipt Clientela imports")
    kind, status = RECEIPT_KINDS[root_name]
    file_name = _child_text(root, "NomeFile")
    if file_name.lower().endswith(".p7m"):
        file_name = file_name[:-4]
    if not file_name:
        raise MalformedReceipt("the receipt names no file (NomeFile)")
    errors = []
    if kind == "NS":
        for lista in _children(root, "ListaErrori"):
            for error in _children(lista, "Errore"):
                errors.append({"code": _child_text(error, "Codice"), "description": _child_text(error, "Descrizione")})
    if kind == "NE":
        outcome = _child_text(root, "EsitoCommittente", "Esito")
        status = BUYER_OUTCOMES.get(outcome)
        if status is None:
            raise MalformedReceipt(f"unknown buyer outcome {outcome!r}")
    return Receipt(kind=kind, file_name=file_name, sdi_id=_child_text(root, "IdentificativoSdI"),
                   message_id=_child_text(root, "MessageId"), status=status, errors=errors)
