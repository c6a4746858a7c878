/* Italian names for bootstrap-datepicker 1.10 (which Flask-AppBuilder 5.3.0 loads, without
   locale files). Names as CLDR writes them (tests/test_locale_forms.py checks them against
   Babel's); the pattern and the first day of the week come from each input's data attributes
   (app/fab/widgets.py). No inline script: the admin pages can carry a strict CSP. */
(function ($) {
  if (!$ || !$.fn || !$.fn.datepicker) { return; }
  $.fn.datepicker.dates.it = {
    days: ["domenica", "lunedì", "martedì", "mercoledì", "giovedì", "venerdì", "sabato"],
    daysShort: ["dom", "lun", "mar", "mer", "gio", "ven", "sab"],
    daysMin: ["do", "lu", "ma", "me", "gi", "ve", "sa"],
    months: ["gennaio", "febbraio", "marzo", "aprile", "maggio", "giugno", "luglio", "agosto",
             "settembre", "ottobre", "novembre", "dicembre"],
    monthsShort: ["gen", "feb", "mar", "apr", "mag", "giu", "lug", "ago", "set", "ott", "nov", "dic"],
    today: "Oggi",
    clear: "Cancella",
    monthsTitle: "Mesi",
    weekStart: 1,
    format: "dd/mm/yyyy"
  };
}(window.jQuery));
