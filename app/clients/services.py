"""The client rules every door calls: the admin form, the REST API and the importers.

`create_client` and `update_client` check the fields with `clean_client_fields` and the
contacts with `replace_contacts`, and change nothing when either refuses. Contacts keep
their ids across edits, because each contact is a portal identity (links and sessions point
at it). Like every rule, these change the session and leave the commit to the caller.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l

from app.activity import services as activity
from app.clients.models import Client, Contact
from app.clients.validation import clean_client_fields
from app.errors import Refusal
from app.extensions import db

CLIENT_FIELDS = (
    "name", "kind", "email", "phone", "address", "city", "province", "postal_code", "country",
    "vat_number", "tax_code", "sdi_code", "pec", "language", "currency", "notes",
)
# Its yes/no fields (e-invoicing), kept apart: a missing value takes a default by kind.
CLIENT_FLAGS = ("split_payment", "withholding_agent")

NO_CONTACT = _l("Add at least one contact.")
NOT_ONE_PRIMARY = _l("Mark exactly one contact as primary.")
SHARED_EMAIL = _l("Two contacts cannot share an email address.")
UNKNOWN_CONTACT = _l("This contact does not belong to this client.")


@dataclass(frozen=True)
class ContactData:
    """One contact as a door received it; `id` names an existing contact of the client."""

    name: str
    email: str
    phone: str = ""
    is_primary: bool = False
    id: int | None = None


class ClientRefused(Refusal):
    """The client's fields or contacts were refused; `errors` holds every field's message.

    Contact fields are named `contacts.<index>.<name>` (index in the list given), or
    `contacts` for the list as a whole.
    """

    def __init__(self, errors: Mapping[str, object]):
        super().__init__(next(iter(errors.values())), next(iter(errors)))
        self.errors = dict(errors)

    def as_dict(self) -> dict[str, str]:
        return {name: str(message) for name, message in self.errors.items()}


def contact_errors(contacts: Sequence[ContactData], client: Client | None = None) -> dict[str, object]:
    """Every refusal of a contact list, by field: at least one contact, exactly one primary,
    no two with the same email (case-insensitive), and (given `client`) ids only of its own
    contacts."""
    errors: dict[str, object] = {}
    if not contacts:
        return {"contacts": NO_CONTACT}
    known = {contact.id for contact in client.contacts} if client is not None else None
    seen: set[str] = set()
    for index, contact in enumerate(contacts):
        if known is not None and contact.id is not None and contact.id not in known:
            errors[f"contacts.{index}.id"] = UNKNOWN_CONTACT
        email = contact.email.strip().lower()
        if email and email in seen:
            errors[f"contacts.{index}.email"] = SHARED_EMAIL
        seen.add(email)
    if sum(1 for contact in contacts if contact.is_primary) != 1:
        errors.setdefault("contacts", NOT_ONE_PRIMARY)
    return errors


def replace_contacts(client: Client, contacts: Sequence[ContactData]) -> None:
    """Make `contacts` the client's contacts: those with an id are updated in place, the
    others added, the client's contacts not listed removed. Raises ClientRefused first."""
    errors = contact_errors(contacts, client)
    if errors:
        raise ClientRefused(errors)
    existing = {contact.id: contact for contact in client.contacts}
    kept = []
    for data in contacts:
        contact = existing.get(data.id) or Contact()
        contact.name = data.name
        contact.email = data.email
        contact.phone = data.phone
        contact.is_primary = data.is_primary
        kept.append(contact)
    client.contacts = kept


def create_client(values: Mapping[str, object], contacts: Sequence[ContactData] | None = None) -> Client:
    """A new client from its fields; without contacts, its own name and email become the
    primary contact. Records "client created" on the timeline."""
    client = Client()
    cleaned = _checked(client, values, contacts)
    if contacts is None:
        contacts = [ContactData(name=str(cleaned["name"]), email=str(cleaned["email"]),
                                phone=str(cleaned.get("phone") or ""), is_primary=True)]
    _apply(client, cleaned, values)
    replace_contacts(client, contacts)
    db.session.add(client)
    db.session.flush()
    activity.record("client_created", client.id)
    return client


def update_client(client: Client, values: Mapping[str, object],
                  contacts: Sequence[ContactData] | None = None) -> None:
    """Change the fields named in `values` (the others keep their value) and, when given,
    replace the contacts."""
    cleaned = _checked(client, values, contacts)
    _apply(client, cleaned, values)
    if contacts is not None:
        replace_contacts(client, contacts)


def client_errors(client: Client, values: Mapping[str, object],
                  contacts: Sequence[ContactData] | None = None) -> dict[str, object]:
    """What `update_client` (or `create_client`, for a new Client()) would refuse, changing
    nothing: a door that found errors of its own adds these, to show every error at once."""
    errors, _values = _check(client, values, contacts)
    return errors


def _check(client: Client, values: Mapping[str, object],
           contacts: Sequence[ContactData] | None) -> tuple[dict[str, object], dict[str, object]]:
    current = {name: getattr(client, name) or "" for name in CLIENT_FIELDS}
    current.update({name: getattr(client, name) for name in CLIENT_FLAGS})  # None on a new client: the default
    given = {k: v for k, v in values.items() if k in CLIENT_FIELDS or k in CLIENT_FLAGS}
    result = clean_client_fields({**current, **given})
    errors = dict(result.errors)
    if contacts is not None:
        errors.update(contact_errors(contacts, client))
    return errors, result.values


def _checked(client: Client, values: Mapping[str, object], contacts: Sequence[ContactData] | None) -> dict[str, object]:
    """The cleaned fields; refuses with every field's and contact's error at once, before any change."""
    errors, cleaned = _check(client, values, contacts)
    if errors:
        raise ClientRefused(errors)
    return cleaned


def _apply(client: Client, cleaned: Mapping[str, object], values: Mapping[str, object]) -> None:
    for name in CLIENT_FIELDS:
        setattr(client, name, cleaned[name] or "")
    for name in CLIENT_FLAGS:
        setattr(client, name, cleaned[name])
    if "archived" in values:
        client.archived = bool(values["archived"])
