"""The vendored FatturaPA 1.2.3 schema, loaded offline, and the one safe way to parse XML.

Every XML Clientela reads (receipts, the schemas themselves) goes through `parse`: no network,
no DTD, no entities, and a DOCTYPE is refused outright, so a hostile receipt cannot read local
files or make requests (XXE). See schemas/PROVENANCE for where each XSD comes from.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from lxml import etree

SCHEMA_DIR = Path(__file__).resolve().parent / "schemas"
INVOICE_XSD = SCHEMA_DIR / "Schema_del_file_xml_FatturaPA_v1.2.3.xsd"
XMLDSIG_XSD = SCHEMA_DIR / "xmldsig-core-schema.xsd"


class UnsafeXml(ValueError):
    """The document declares a DOCTYPE (a DTD or entities): refused, never expanded."""


class _LocalXmldsig(etree.Resolver):
    """The FatturaPA XSD imports xmldsig from w3.org: answer with the vendored copy."""

    def resolve(self, url, pubid, context):
        if url and url.endswith("xmldsig-core-schema.xsd"):
            return self.resolve_filename(str(XMLDSIG_XSD), context)
        return None


def _parser() -> etree.XMLParser:
    parser = etree.XMLParser(no_network=True, resolve_entities=False, load_dtd=False, dtd_validation=False,
                             huge_tree=False, remove_comments=True)
    parser.resolvers.add(_LocalXmldsig())
    return parser


def parse(content: bytes) -> etree._Element:
    """The root element of `content`; raises `etree.XMLSyntaxError` on malformed XML and
    `UnsafeXml` on any DOCTYPE."""
    tree = etree.fromstring(content, _parser()).getroottree()
    if tree.docinfo.doctype or tree.docinfo.internalDTD is not None:
        raise UnsafeXml("DOCTYPE declarations are not accepted")
    return tree.getroot()


@lru_cache(maxsize=1)
def invoice_schema() -> etree.XMLSchema:
    # The xmldsig XSD carries a DOCTYPE of its own (trusted, vendored): parsed here, not via parse().
    return etree.XMLSchema(etree.parse(str(INVOICE_XSD), _parser()))


def schema_errors(content: bytes) -> list[str]:
    """What the 1.2.3 schema finds wrong with an invoice file (empty: valid)."""
    schema = invoice_schema()
    document = etree.fromstring(content, _parser())
    if schema.validate(document):
        return []
    return [f"line {error.line}: {error.message}" for error in schema.error_log]
