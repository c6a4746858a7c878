"""The client rules every door calls: the admin form, the REST API and the importers.

`create_client` and `update_client` check the fields with `clean_client_fields` and the
contacts with `replace_contacts`, and change nothing when either refuses. Contacts keep
their ids across edits, because each contact is a portal identity (links and sessions point
at it). Like every rule, these change the session and leave the commit to the caller.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from email_validator import EmailNotValidError, validate_email
from flask_babel import lazy_gettext as _l
from sqlalchemy import or_, select

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
CONTACT_NAME_REQUIRED = _l("The contact's name is required.")
INVALID_EMAIL = _l("This is not a valid email address.")
LAST_CONTACT = _l("A client keeps at least one contact: add another one before removing this one.")
# The tax identifiers a second client may share only knowingly (a warning, never a refusal).
TAX_ID_FIELDS = ("vat_number", "tax_code")
SHARED_TAX_ID = {
    "vat_number": _l("Another client already has this VAT number: %(clients)s."),
    "tax_code": _l("Another client already has this codice fiscale: %(clients)s."),
}


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


def initial_contacts(values: Mapping[str, object], contacts: Sequence[ContactData] | None) -> list[ContactData]:
    """The contacts a new client starts with: those given, else the client itself.

    A client created with an email and no contact (a private person, typically) is its own
    primary contact, so nobody types the same person twice: the admin form and the API both
    come through here (docs/decisions.md, "A client without contacts")."""
    if contacts:
        return list(contacts)
    email = str(values.get("email") or "").strip()
    if not email:
        return []
    return [ContactData(name=str(values.get("name") or "").strip(), email=email,
                        phone=str(values.get("phone") or "").strip(), is_primary=True)]


def create_client(values: Mapping[str, object], contacts: Sequence[ContactData] | None = None) -> Client:
    """A new client from its fields; without contacts, its own name and email become the
    primary contact (`initial_contacts`). Records "client created" on the timeline."""
    client = Client()
    cleaned = _checked(client, values, contacts or None)
    contacts = initial_contacts(cleaned, contacts) or [
        ContactData(name=str(cleaned["name"]), email="", phone=str(cleaned.get("phone") or ""), is_primary=True)]
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


# ---------------------------------------------------------------- one contact at a time

def _as_data(contact: Contact, *, is_primary: bool | None = None) -> ContactData:
    return ContactData(id=contact.id, name=contact.name, email=contact.email, phone=contact.phone or "",
                       is_primary=contact.is_primary if is_primary is None else is_primary)


def save_contact(client: Client, data: ContactData) -> Contact:
    """Add a contact (`data.id` None) or change one of the client's (its id), under the rules
    of `replace_contacts`. Marking it primary takes the mark from the others; the client's
    primary contact stays primary until another one is marked. Raises ClientRefused with the
    fields `name`, `email`, `id` or `contacts`."""
    errors: dict[str, object] = {}
    if data.id is not None and data.id not in {contact.id for contact in client.contacts}:
        raise ClientRefused({"id": UNKNOWN_CONTACT})
    name = data.name.strip()
    if not name:
        errors["name"] = CONTACT_NAME_REQUIRED
    try:
        email = validate_email(data.email.strip(), check_deliverability=False).normalized
    except EmailNotValidError:
        errors["email"] = INVALID_EMAIL
    if errors:
        raise ClientRefused(errors)
    current = [_as_data(contact, is_primary=contact.is_primary and not data.is_primary) for contact in client.contacts]
    keeps_primary = any(contact.is_primary for contact in current if contact.id != data.id)
    mine = ContactData(id=data.id, name=name, email=email, phone=data.phone.strip(),
                       is_primary=data.is_primary or not keeps_primary)
    contacts = ([mine if contact.id == data.id else contact for contact in current] if data.id is not None
                else [*current, mine])
    index = next(i for i, contact in enumerate(contacts) if contact is mine)
    refused = {("email" if field == f"contacts.{index}.email" else field): message
               for field, message in contact_errors(contacts, client).items()}
    if refused:
        raise ClientRefused(refused)
    replace_contacts(client, contacts)
    return client.contacts[index]


def remove_contact(client: Client, contact_id: int) -> None:
    """Remove one of the client's contacts (its portal links and sessions end with it). The
    last contact stays; removing the primary one makes the next contact primary."""
    if contact_id not in {contact.id for contact in client.contacts}:
        raise ClientRefused({"id": UNKNOWN_CONTACT})
    kept = [contact for contact in client.contacts if contact.id != contact_id]
    if not kept:
        raise ClientRefused({"contacts": LAST_CONTACT})
    has_primary = any(contact.is_primary for contact in kept)
    replace_contacts(client, [_as_data(contact, is_primary=contact.is_primary or (not has_primary and i == 0))
                              for i, contact in enumerate(kept)])


def unlisted_client_email(client: Client) -> str:
    """The client's own email when none of its contacts has it ("" otherwise): the send page
    offers it beside the contacts."""
    email = (client.email or "").strip()
    if not email or any(contact.email.lower() == email.lower() for contact in client.contacts):
        return ""
    return email


def contact_for_client_email(client: Client) -> Contact:
    """The contact that receives mail at the client's own email address, added (named after
    the client) when none has it: every email carries a portal sign-in link, and the portal's
    identity is a contact (docs/decisions.md, "Sending to the client's own email")."""
    email = (client.email or "").strip()
    if not email:
        raise ClientRefused({"email": INVALID_EMAIL})
    existing = next((contact for contact in client.contacts if contact.email.lower() == email.lower()), None)
    if existing is not None:
        return existing
    contact = save_contact(client, ContactData(name=client.name, email=email, phone=client.phone or ""))
    db.session.flush()  # the sender names recipients by contact id
    return contact


# ---------------------------------------------------------------- the same tax identifier twice

def clients_sharing_tax_ids(values: Mapping[str, object], client_id: int | None = None) -> dict[str, list[Client]]:
    """Other clients (archived ones too) with the same Partita IVA or codice fiscale, by
    field: a warning to show, never a refusal, since two clients may rightly share one (two
    offices of one public administration, a person billed privately and as a sole trader).
    `values` are cleaned values (`clean_client_fields`), so "IT 0123…" and "0123…" meet."""
    given = {name: str(values.get(name) or "").strip() for name in TAX_ID_FIELDS}
    given = {name: value for name, value in given.items() if value}
    if not given:
        return {}
    statement = (select(Client).where(or_(*(getattr(Client, name) == value for name, value in given.items())))
                 .order_by(Client.id).limit(20))
    if client_id is not None:
        statement = statement.where(Client.id != client_id)
    found: dict[str, list[Client]] = {}
    for other in db.session.scalars(statement):
        for name, value in given.items():
            if getattr(other, name) == value:
                found.setdefault(name, []).append(other)
    return found


def tax_id_warnings(client: Client) -> dict[str, list[str]]:
    """The warnings of `clients_sharing_tax_ids` for a saved client, as the API answers them
    (`{"vat_number": ["Another client already has this VAT number: Rossi S.r.l. (id 12)."]}`)."""
    values = {name: getattr(client, name) for name in TAX_ID_FIELDS}
    return {
        name: [str(SHARED_TAX_ID[name] % {"clients": ", ".join(f"{other.name} (id {other.id})" for other in others)})]
        for name, others in clients_sharing_tax_ids(values, client.id).items()
    }
