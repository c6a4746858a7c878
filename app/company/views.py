"""The company settings page (Admin only): one row, edited in place.

The list and add routes lead to that row's form; it cannot be deleted. Tax IDs are checked
with the same rules as a client's, the IBAN with python-stdnum, numbering formats by trying
them, and the logo by its content (PNG or JPEG, at most 1 MB), never by its file name.
"""
from __future__ import annotations

from flask import flash, redirect, url_for
from flask_appbuilder import expose, has_access
from flask_appbuilder.fieldwidgets import BS3TextAreaFieldWidget, BS3TextFieldWidget, Select2Widget
from flask_appbuilder.forms import DynamicForm
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from markupsafe import Markup
from wtforms import BooleanField, FileField, IntegerField, SelectField, StringField
from wtforms.validators import Email, InputRequired, Length, NumberRange, Optional, ValidationError

from app.company.models import CompanySettings
from app.company.services import (
    PENSION_FUNDS,
    REGIMI_FISCALI,
    TAX_SETTING_FIELDS,
    WITHHOLDING_TYPES,
    check_number_format,
    clean_iban,
    clean_tax_settings,
    get_company,
    logo_mime,
)
from app.extensions import db
from app.fab.base import ClientelaModelView
from app.fab.fields import LocaleDecimalField
from app.i18n import LANGUAGE_CHOICES, example_number, format_number
from app.security.roles import READ_WRITE
from app.taxids import clean_tax_code, clean_vat_number

MAX_LOGO_BYTES = 1024 * 1024
class LogoField(FileField):
    """An uploaded logo, stored in the settings row (bytes and MIME type); empty keeps the old one."""

    content: bytes | None = None

    def pre_validate(self, form) -> None:
        self.content = None
        upload = self.data
        if not upload or not getattr(upload, "filename", ""):
            return
        content = upload.read(MAX_LOGO_BYTES + 1)
        if len(content) > MAX_LOGO_BYTES:
            raise ValidationError(_("The logo must be at most 1 MB."))
        if not logo_mime(content):
            raise ValidationError(_("The logo must be a PNG or JPEG image."))
        self.content = content

    def populate_obj(self, obj: CompanySettings, name: str) -> None:
        if self.content:
            obj.logo = self.content
            obj.logo_mime = logo_mime(self.content)


def _text(label, max_length: int, description="", required: bool = False) -> StringField:
    # WTForms prints a description of None as the word "None" under the field.
    checks = [InputRequired()] if required else []
    return StringField(label, description=description, validators=[*checks, Length(max=max_length)],
                       widget=BS3TextFieldWidget(), default="")


def _email(label) -> StringField:
    return StringField(label, validators=[Optional(), Email(), Length(max=200)], widget=BS3TextFieldWidget())


def _number_format(form, field) -> None:
    try:
        field.data = check_number_format(field.data or "")
    except ValueError as error:
        raise ValidationError(str(error.args[0])) from None


def _percent(label, description="") -> LocaleDecimalField:
    return LocaleDecimalField(label, widget=BS3TextFieldWidget(), description=description,
                              validators=[InputRequired(), NumberRange(min=0, max=100, message=_l(
                                  "Use a percentage between 0 and 100."))])


def _choice(label, choices, description="") -> SelectField:
    return SelectField(label, choices=choices, widget=Select2Widget(), description=description)


class CompanyForm(DynamicForm):
    legal_name = _text(_l("Legal name"), 200, required=True)
    address = _text(_l("Address"), 200)
    city = _text(_l("City"), 100)
    province = _text(_l("Province"), 50)
    postal_code = _text(_l("Postal code"), 20)
    country = _text(_l("Country"), 2, _l("Two-letter ISO code, for example IT."))
    vat_number = _text(_l("VAT number"), 30)
    tax_code = _text(_l("Codice fiscale"), 30)
    iban = _text(_l("IBAN"), 40, _l("Printed on invoices as payment instructions."))
    bank_name = _text(_l("Bank"), 100)
    email = _email(_l("Email"))
    phone = _text(_l("Phone"), 50)
    website = _text(_l("Website"), 200)
    logo = LogoField(_l("Logo"), description=_l("PNG or JPEG, at most 1 MB. Leave empty to keep the current logo."))
    remove_logo = BooleanField(_l("Remove the logo"))
    currency = _text(_l("Currency"), 3, required=True)
    default_tax_rate = LocaleDecimalField(_l("Default tax rate %"), widget=BS3TextFieldWidget(),
                                          validators=[InputRequired(), NumberRange(min=0, max=100, message=_l(
                                              "The tax rate is a percentage between 0 and 100."))])
    payment_terms_days = IntegerField(_l("Payment terms (days)"), widget=BS3TextFieldWidget(),
                                      validators=[InputRequired(), NumberRange(min=0, max=365, message=_l(
                                          "Use a number of days between 0 and 365."))])
    quote_validity_days = IntegerField(_l("Quotes valid for (days)"), widget=BS3TextFieldWidget(),
                                       validators=[InputRequired(), NumberRange(min=1, max=365, message=_l(
                                           "Use a number of days between 1 and 365."))])
    invoice_number_format = StringField(_l("Invoice number format"), widget=BS3TextFieldWidget(),
                                        validators=[InputRequired(), Length(max=50), _number_format],
                                        description=_l("{year}, {yy} and {seq}; for example {year}/{seq:04d}."))
    quote_number_format = StringField(_l("Quote number format"), widget=BS3TextFieldWidget(),
                                      validators=[InputRequired(), Length(max=50), _number_format])
    credit_note_number_format = StringField(_l("Credit note number format"), widget=BS3TextFieldWidget(),
                                            validators=[InputRequired(), Length(max=50), _number_format])
    regime_fiscale = _choice(_l("Fiscal regime"), [(code, code) for code in REGIMI_FISCALI],
                             _l("RF01 ordinary; RF19 flat-rate (forfettario)."))
    withholding_rate = _percent(_l("Withholding tax %"), _l(
        "Ritenuta d'acconto applied when the client is a withholding agent; 0 for none (20 for most professionals)."))
    withholding_type = _choice(_l("Withholding type"), [(code, code) for code in WITHHOLDING_TYPES],
                               _l("RT01 for persons, RT02 for companies."))
    withholding_reason = _text(_l("Payment reason"), 2, _l("CausalePagamento of the Certificazione Unica: A for "
                                                           "professional services."))
    pension_fund_type = _choice(_l("Pension fund"), [("", "—"), *((code, code) for code in PENSION_FUNDS)],
                                _l("TC22 is INPS gestione separata; other funds TC01–TC21."))
    pension_fund_rate = _percent(_l("Pension fund contribution %"), _l("For example 4 for INPS."))
    pension_fund_tax_rate = _percent(_l("VAT rate of the contribution %"))
    stamp_duty = _choice(_l("Stamp duty"), [("auto", _l("Automatic (over %(amount)s EUR without VAT)",
                                                         amount=example_number("77.47"))), ("off", _l("Off"))])
    stamp_duty_charged_to_client = BooleanField(_l("Charge the stamp duty to the client"), default=True)
    einvoice_channel = _choice(_l("E-invoice channel"), [("export", _l("Export (upload to SdI yourself or through "
                                                                       "your accountant)")),
                                                         ("pec", _l("PEC (sent to SdI from the PEC mailbox)"))])
    sdi_pec_address = _text(_l("SdI PEC address"), 200, _l("Where the PEC channel sends the files."))
    transmitter_id = _text(_l("Transmitter id"), 28, _l("IdTrasmittente; empty for the company's VAT number."))
    locale = SelectField(_l("Language"), choices=LANGUAGE_CHOICES, widget=Select2Widget())
    sender_email = _email(_l("Sender email"))
    support_email = _email(_l("Support email"))
    default_terms = StringField(_l("Default terms"), widget=BS3TextAreaFieldWidget(), default="")

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators=extra_validators)
        country = (self.country.data or "").strip().upper() or "IT"
        self.country.data = country
        self.currency.data = (self.currency.data or "").strip().upper()
        checks = (
            (self.vat_number, lambda value: clean_vat_number(value, country)),
            (self.tax_code, lambda value: clean_tax_code(value, country)),
            (self.iban, clean_iban),
        )
        for field, clean in checks:
            try:
                field.data = clean(field.data or "")
            except ValueError as error:
                field.errors = [*field.errors, str(error.args[0])]
                valid = False
        if len(self.currency.data) != 3 or not self.currency.data.isalpha():
            self.currency.errors = [*self.currency.errors, _("Use a three-letter currency code (for example EUR).")]
            valid = False
        values, errors = clean_tax_settings({name: self[name].data for name in TAX_SETTING_FIELDS})
        for name, message in errors.items():
            if not self[name].errors:  # a number that could not be read already says so
                self[name].errors = [*self[name].errors, str(message)]
            valid = False
        for name, value in values.items():
            self[name].data = value
        return valid

    def populate_obj(self, obj: CompanySettings) -> None:
        super().populate_obj(obj)
        if self.remove_logo.data and not self.logo.content:
            obj.logo, obj.logo_mime = None, ""


def _logo_preview(logo: bytes | None) -> Markup:
    if not logo:
        return Markup("<em>{}</em>").format(_("No logo"))
    return Markup("{} ({} KB)").format(_("Logo uploaded"), max(1, len(logo) // 1024))


PERCENT_COLUMNS = ("default_tax_rate", "withholding_rate", "pension_fund_rate", "pension_fund_tax_rate")
EINVOICE_FIELDSETS = [
    (_l("Electronic invoicing and Italian taxes"), {"fields": [
        "regime_fiscale", "withholding_rate", "withholding_type", "withholding_reason", "pension_fund_type",
        "pension_fund_rate", "pension_fund_tax_rate", "stamp_duty", "stamp_duty_charged_to_client",
        "einvoice_channel", "sdi_pec_address", "transmitter_id",
    ]}),
]


class CompanySettingsView(ClientelaModelView):
    datamodel = SQLAInterface(CompanySettings)
    class_permission_name = "CompanySettings"
    method_permission_name = READ_WRITE
    show_title = edit_title = list_title = _l("Company settings")

    edit_form = CompanyForm
    edit_fieldsets = [
        (_l("Company"), {"fields": ["legal_name", "address", "city", "province", "postal_code", "country",
                                     "email", "phone", "website"]}),
        (_l("Tax and bank"), {"fields": ["vat_number", "tax_code", "iban", "bank_name"]}),
        (_l("Invoices"), {"fields": ["currency", "default_tax_rate", "payment_terms_days", "quote_validity_days",
                                      "invoice_number_format", "quote_number_format", "credit_note_number_format",
                                      "locale", "default_terms"]}),
        (_l("Logo"), {"fields": ["logo", "remove_logo"]}),
        (_l("Email"), {"fields": ["sender_email", "support_email"]}),
        *EINVOICE_FIELDSETS,
    ]
    show_fieldsets = [
        (_l("Company"), {"fields": ["legal_name", "address", "city", "province", "postal_code", "country",
                                     "email", "phone", "website", "logo"]}),
        (_l("Tax and bank"), {"fields": ["vat_number", "tax_code", "iban", "bank_name"]}),
        (_l("Invoices"), {"fields": ["currency", "default_tax_rate", "payment_terms_days", "quote_validity_days",
                                      "invoice_number_format", "quote_number_format", "locale"]}),
        (_l("Email"), {"fields": ["sender_email", "support_email"]}),
        *EINVOICE_FIELDSETS,
    ]
    edit_columns = [name for _title, fieldset in edit_fieldsets for name in fieldset["fields"]]
    label_columns = {name: getattr(CompanyForm, name).args[0] for name in edit_columns}
    formatters_columns = {"logo": _logo_preview, **{name: format_number for name in PERCENT_COLUMNS}}
    edit_row_message = _l("Company settings saved.")

    def _settings_url(self) -> str:
        company = get_company()
        db.session.commit()  # the row is created with defaults the first time
        return url_for("CompanySettingsView.edit", pk=company.id)

    @expose("/list/")
    @has_access
    def list(self):
        return redirect(self._settings_url())

    @expose("/add", methods=["GET", "POST"])
    @has_access
    def add(self):
        return redirect(self._settings_url())

    @expose("/delete/<pk>", methods=["GET", "POST"])
    @has_access
    def delete(self, pk):
        flash(_("The company settings cannot be deleted."), "warning")
        return redirect(self._settings_url())

    def post_edit_redirect(self):
        return redirect(self._settings_url())


def register(appbuilder) -> None:
    appbuilder.add_view(CompanySettingsView, "Company settings", label=_l("Company settings"),
                        icon="fa-building", category="Settings", category_label=_l("Settings"))
