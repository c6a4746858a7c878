"""The names, places and services demo rows are made of (all invented; mail domains reserved)."""
from __future__ import annotations

from dataclasses import dataclass




CITIES = [
    ("Milano", "MI", "20121", "F205", "02"),
    ("Roma", "RM", "00184", "H501", "06"),
    ("Torino", "TO", "10121", "L219", "011"),
    ("Napoli", "NA", "80133", "F839", "081"),
    ("Bologna", "BO", "40121", "A944", "051"),
    ("Firenze", "FI", "50122", "D612", "055"),
    ("Genova", "GE", "16121", "D969", "010"),
    ("Palermo", "PA", "90133", "G273", "091"),
    ("Bari", "BA", "70121", "A662", "080"),
    ("Venezia", "VE", "30124", "L736", "041"),
    ("Verona", "VR", "37121", "L781", "045"),
    ("Padova", "PD", "35122", "G224", "049"),
    ("Brescia", "BS", "25121", "B157", "030"),
    ("Bergamo", "BG", "24121", "A794", "035"),
    ("Trieste", "TS", "34121", "L424", "040"),
    ("Cagliari", "CA", "09124", "B354", "070"),
    ("Perugia", "PG", "06121", "G478", "075"),
    ("Parma", "PR", "43121", "G337", "0521"),
    ("Modena", "MO", "41121", "F257", "059"),
    ("Pisa", "PI", "56125", "G702", "050"),
    ("Catania", "CT", "95124", "C351", "095"),
    ("Trento", "TN", "38122", "L378", "0461"),
    ("Ancona", "AN", "60121", "A271", "071"),
    ("Lecce", "LE", "73100", "E506", "0832"),
    ("Salerno", "SA", "84121", "H703", "089"),
]
# (country, city, postal code, street) for the few clients elsewhere in the EU.
FOREIGN_CITIES = [
    ("DE", "Berlin", "10115", "Invalidenstraße"),
    ("DE", "München", "80331", "Marienplatz"),
    ("FR", "Paris", "75002", "Rue de la Paix"),
    ("FR", "Lyon", "69002", "Rue de la République"),
    ("AT", "Wien", "1010", "Kärntner Straße"),
    ("AT", "Graz", "8010", "Herrengasse"),
    ("BE", "Bruxelles", "1000", "Rue Neuve"),
    ("BE", "Antwerpen", "2000", "Meir"),
]
FOREIGN_COMPANIES = [
    "Nordlicht Software GmbH", "Alpenblick Handels GmbH", "Bergmann & Söhne KG", "Atelier Lumière SARL",
    "Maison Dubois SAS", "Donau Consulting GmbH", "Brabant Logistics BV", "Vlaamse Design NV",
    "Rheinwerk Digital GmbH", "Provence Gourmet SARL", "Wiener Bau GmbH", "Flandria Trading BV",
]
MALE_NAMES = [
    "Marco", "Luca", "Giuseppe", "Giovanni", "Andrea", "Francesco", "Alessandro", "Matteo", "Lorenzo",
    "Davide", "Stefano", "Paolo", "Roberto", "Simone", "Federico", "Antonio", "Riccardo", "Fabio",
]
FEMALE_NAMES = [
    "Giulia", "Francesca", "Chiara", "Sara", "Valentina", "Elena", "Alessandra", "Martina", "Laura",
    "Silvia", "Federica", "Paola", "Anna", "Elisa", "Roberta", "Maria", "Claudia", "Beatrice",
]
SURNAMES = [
    "Rossi", "Russo", "Ferrari", "Esposito", "Bianchi", "Romano", "Colombo", "Ricci", "Marino", "Greco",
    "Bruno", "Gallo", "Conti", "De Luca", "Mancini", "Costa", "Giordano", "Rizzo", "Lombardi", "Moretti",
    "Barbieri", "Fontana", "Santoro", "Mariani", "Rinaldi", "Caruso", "Ferrara", "Galli", "Martini",
    "Leone", "Longo", "Gentile", "Martinelli", "Vitale", "Serra", "Coppola", "De Santis", "D'Angelo",
    "Marchetti", "Parisi", "Villa", "Conte", "Ferraro", "Fabbri", "Bianco", "Marini", "Grasso", "Valentini",
]
SECTORS = [
    "Costruzioni", "Impianti", "Informatica", "Consulting", "Logistica", "Arredamenti", "Meccanica",
    "Elettronica", "Trasporti", "Serramenti", "Tipografia", "Alimentari", "Servizi", "Engineering",
    "Software", "Ceramiche", "Tessile", "Ottica", "Immobiliare", "Design",
]
PLACE_WORDS = ["Adriatica", "Tirrenica", "Padana", "Lombarda", "Veneta", "Toscana", "Emiliana", "Sabauda", "Alpina"]
LEGAL_FORMS = ["S.r.l.", "S.r.l.", "S.r.l.", "S.r.l.s.", "S.p.A.", "S.n.c.", "S.a.s."]
STREETS = [
    "Via Roma", "Via Giuseppe Garibaldi", "Corso Vittorio Emanuele II", "Via Dante Alighieri", "Via Mazzini",
    "Piazza della Repubblica", "Via Cavour", "Viale dei Mille", "Via XX Settembre", "Via Verdi",
    "Corso Italia", "Via Marconi", "Via della Libertà", "Via Nazionale", "Viale Europa", "Via Manzoni",
]
PERSONAL_MAIL_DOMAINS = ["posta.example", "email.example", "mail.example"]


@dataclass(frozen=True)
class Service:
    description: str
    low: int  # unit price range, whole euros
    high: int
    quantities: tuple[str, ...]
    tax_rate: str
    vat_nature: str = ""  # why a 0 % service bears no VAT


BUSINESS_SERVICES = [
    Service("Consulenza strategica (giornata)", 600, 1200, ("1", "2", "3", "5"), "22"),
    Service("Sviluppo software su misura (ore)", 45, 90, ("8", "16", "24", "40", "12.5"), "22"),
    Service("Hosting annuale su server dedicato", 480, 1800, ("1",), "22"),
    Service("Manutenzione ordinaria impianto", 150, 600, ("1", "2", "4"), "22"),
    Service("Canone di assistenza tecnica mensile", 90, 450, ("1", "3", "6", "12"), "22"),
    Service("Licenza software gestionale (annuale)", 300, 2400, ("1", "2", "5"), "22"),
    Service("Progettazione grafica e identità visiva", 800, 3500, ("1",), "22"),
    Service("Campagna pubblicitaria online", 500, 4000, ("1",), "22"),
    Service("Audit di sicurezza informatica", 1500, 6000, ("1",), "22"),
    Service("Migrazione dati in cloud", 900, 5000, ("1",), "22"),
    Service("Backup gestito (canone trimestrale)", 120, 390, ("1", "4"), "22"),
    Service("Servizio di traduzione tecnica (cartella)", 18, 35, ("10", "25", "40"), "22"),
    Service("Noleggio attrezzature (giornaliero)", 60, 250, ("1", "3", "5", "10"), "22"),
    Service("Servizio di catering per evento aziendale (coperto)", 25, 60, ("20", "50", "80"), "10"),
    Service("Lavori di ristrutturazione edilizia", 2000, 15000, ("1",), "10"),
    Service("Pernottamento in struttura convenzionata", 70, 160, ("2", "4", "6"), "10"),
    Service("Manuali tecnici a stampa", 15, 45, ("5", "10", "30"), "4"),
    Service("Abbonamento annuale a rivista di settore", 60, 180, ("1", "2"), "4"),
    Service("Formazione del personale (esente art. 10 DPR 633/72)", 400, 2500, ("1", "2"), "0", "N4"),
]
PERSONAL_SERVICES = [
    Service("Consulenza fiscale e dichiarazione dei redditi", 120, 450, ("1",), "22"),
    Service("Manutenzione impianto idraulico in abitazione", 80, 600, ("1",), "10"),
    Service("Riparazione caldaia domestica", 90, 400, ("1",), "10"),
    Service("Lezioni private di informatica (ore)", 25, 45, ("4", "8", "10"), "22"),
    Service("Progetto di arredo d'interni", 500, 2500, ("1",), "22"),
    Service("Libri scolastici", 12, 40, ("1", "3", "6"), "4"),
]
EU_SERVICES = [
    Service("Software development services", 55, 95, ("16", "40", "80"), "0", "N2.1"),
    Service("IT consulting (day rate)", 650, 1100, ("1", "3", "5"), "0", "N2.1"),
    Service("Managed hosting, yearly", 600, 2400, ("1",), "0", "N2.1"),
    Service("Technical translation (page)", 20, 35, ("10", "30"), "0", "N2.1"),
]
REVERSE_CHARGE_NOTE = "Operazione non soggetta a IVA ai sensi dell'art. 7-ter DPR 633/72 – reverse charge."
# Stamp duty (2.00 over 77.47 without VAT) follows the company's setting, as on any invoice:
# app.billing.totals adds it, and the e-invoice carries it as an N1 line.
