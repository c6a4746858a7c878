"""VAT natures of 0 % lines: what each one means and the law an e-invoice cites by default.

FatturaPA (specifiche tecniche 1.7+) asks every line without VAT to say why (Natura), and
SdI refuses the pre-2021 natures N2, N3 and N6 (error 00445): each is split into subcodes.
The reference (RiferimentoNormativo) is free text; these defaults are the usual citations,
and a line may name its own.
"""
from __future__ import annotations

from flask_babel import lazy_gettext as _l

from app.billing.models import VAT_NATURES

# The natures SdI no longer accepts, refused with a message that names the subcodes.
RETIRED_NATURES = ("N2", "N3", "N6")

DEFAULT_REFERENCES: dict[str, str] = {
    "N1": "Escluse ex art. 15 DPR 633/72",
    "N2.1": "Non soggette ad IVA ai sensi degli artt. da 7 a 7-septies DPR 633/72",
    "N2.2": "Operazione non soggetta ad IVA ai sensi dell'art. 1, commi 54-89, L. 190/2014",
    "N3.1": "Non imponibile art. 8 DPR 633/72 (esportazioni)",
    "N3.2": "Non imponibile art. 41 DL 331/93 (cessioni intracomunitarie)",
    "N3.3": "Non imponibile art. 71 DPR 633/72 (cessioni verso San Marino)",
    "N3.4": "Non imponibile art. 8-bis DPR 633/72 (operazioni assimilate alle esportazioni)",
    "N3.5": "Non imponibile art. 8, c. 1, lett. c) DPR 633/72 (dichiarazione d'intento)",
    "N3.6": "Non imponibile (altre operazioni che non concorrono al plafond)",
    "N4": "Esente art. 10 DPR 633/72",
    "N5": "Regime del margine, art. 36 DL 41/95",
    "N6.1": "Inversione contabile art. 74, c. 7 e 8, DPR 633/72 (rottami)",
    "N6.2": "Inversione contabile art. 17, c. 5, DPR 633/72 (oro e argento)",
    "N6.3": "Inversione contabile art. 17, c. 6, lett. a) DPR 633/72 (subappalto edilizia)",
    "N6.4": "Inversione contabile art. 17, c. 6, lett. a-bis) DPR 633/72 (cessione di fabbricati)",
    "N6.5": "Inversione contabile art. 17, c. 6, lett. b) DPR 633/72 (telefoni cellulari)",
    "N6.6": "Inversione contabile art. 17, c. 6, lett. c) DPR 633/72 (prodotti elettronici)",
    "N6.7": "Inversione contabile art. 17, c. 6, lett. a-ter) DPR 633/72 (settore edile)",
    "N6.8": "Inversione contabile art. 17, c. 6, lett. d-bis, d-ter, d-quater) DPR 633/72 (settore energetico)",
    "N6.9": "Inversione contabile art. 17, c. 2, DPR 633/72 (altri casi)",
    "N7": "IVA assolta in altro stato UE (art. 7-bis, 7-sexies DPR 633/72; art. 74-sexies)",
}

LABELS = {
    "N1": _l("N1 – Excluded (art. 15)"),
    "N2.1": _l("N2.1 – Not subject: art. 7 to 7-septies"),
    "N2.2": _l("N2.2 – Not subject: other cases (e.g. flat-rate regime)"),
    "N3.1": _l("N3.1 – Non-taxable: exports"),
    "N3.2": _l("N3.2 – Non-taxable: intra-EU supplies"),
    "N3.3": _l("N3.3 – Non-taxable: supplies to San Marino"),
    "N3.4": _l("N3.4 – Non-taxable: treated as exports"),
    "N3.5": _l("N3.5 – Non-taxable: declaration of intent"),
    "N3.6": _l("N3.6 – Non-taxable: other cases"),
    "N4": _l("N4 – Exempt"),
    "N5": _l("N5 – Margin scheme"),
    "N6.1": _l("N6.1 – Reverse charge: scrap"),
    "N6.2": _l("N6.2 – Reverse charge: gold and silver"),
    "N6.3": _l("N6.3 – Reverse charge: construction subcontracting"),
    "N6.4": _l("N6.4 – Reverse charge: buildings"),
    "N6.5": _l("N6.5 – Reverse charge: mobile phones"),
    "N6.6": _l("N6.6 – Reverse charge: electronic products"),
    "N6.7": _l("N6.7 – Reverse charge: construction"),
    "N6.8": _l("N6.8 – Reverse charge: energy"),
    "N6.9": _l("N6.9 – Reverse charge: other cases"),
    "N7": _l("N7 – VAT paid in another EU country"),
}
assert set(LABELS) == set(DEFAULT_REFERENCES) == set(VAT_NATURES)

# Natures whose amounts count towards the stamp duty threshold (bollo, art. 6 tariffa DPR
# 642/72: invoices for amounts not subject to VAT above 77.47 EUR). Not counted: exports and
# what is treated as such (N3.1, N3.3, N3.4: exempt, art. 15 tabella B DPR 642/72), intra-EU
# supplies (N3.2, art. 66 DL 331/93), reverse charge and VAT paid elsewhere (N6.x, N7: the
# operation is subject to VAT, paid by someone else).
STAMP_DUTY_NATURES = frozenset({"N1", "N2.1", "N2.2", "N3.5", "N3.6", "N4", "N5"})


def nature_reference(nature: str, reference: str = "") -> str:
    """The reference a line cites: its own, else the default of its nature."""
    return reference or DEFAULT_REFERENCES.get(nature, "")


def nature_choices() -> list[tuple[str, str]]:
    return [(code, str(LABELS[code])) for code in VAT_NATURES]
