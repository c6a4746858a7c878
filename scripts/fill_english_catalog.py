"""Fill the English catalog: the code's msgids are English, so each translation is its msgid.

Run by `make messages` after extraction, so the English catalog is complete by construction
and the Italian one is the only catalog a person translates.
"""
from pathlib import Path

from babel.messages.pofile import read_po, write_po

PO = Path(__file__).resolve().parent.parent / "app" / "translations" / "en" / "LC_MESSAGES" / "messages.po"

with PO.open("rb") as handle:
    catalog = read_po(handle, locale="en")
for message in catalog:
    if not message.id:
        continue
    if isinstance(message.id, (tuple, list)):
        if not all(message.string):
            message.string = (message.id[0], message.id[1])
    elif not message.string:
        message.string = message.id
    message.flags.discard("fuzzy")
with PO.open("wb") as handle:
    write_po(handle, catalog, width=76, omit_header=False)  # what `pybabel update` writes: no rewrapping churn
