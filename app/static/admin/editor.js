/* The invoice and quote editor (templates/admin/document_edit.html): lines added and removed in
 * place, a product fills its line, and line amounts, the VAT summary and the totals follow what
 * is typed. The arithmetic is app/billing/totals.py's, on exact decimals (BigInt), never floats:
 * each line's net amount rounded half-up to the cent, VAT once per (rate, nature) block on the
 * block's sum, then the pension fund, stamp duty, withholding and split payment. Numbers are read
 * as app/i18n.py's parse_number reads them, in the reader's notation. The server computes all of
 * it again on save: what it stores is the authority.
 *
 * No inline script and no eval: the page's settings arrive as JSON in #editor-config. */
(function () {
  "use strict";

  var form = document.getElementById("document-editor");
  if (!form) { return; }
  var config = JSON.parse(document.getElementById("editor-config").textContent);
  var tbody = form.querySelector("#editor-lines tbody");
  var template = document.getElementById("editor-line-template");
  var HUNDRED = BigInt(100);
  var ZERO = BigInt(0);

  // --- exact decimals: {n: BigInt, s: scale}, the value being n / 10^s ---------------------------

  function pow10(k) { return BigInt("1" + "0".repeat(k)); }

  function canonical(text) {
    var match = /^([+-]?)(\d*)(?:\.(\d*))?$/.exec(String(text));
    if (!match || (match[2] + (match[3] || "")) === "") { return null; }
    var fraction = match[3] || "";
    var n = BigInt((match[2] + fraction) || "0");
    return { n: match[1] === "-" ? -n : n, s: fraction.length };
  }

  function escape(symbol) { return symbol.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"); }

  var GROUP = config.group, DECIMAL = config.decimal;
  var G = escape(GROUP), D = escape(DECIMAL);
  // Grouped digits with decimals after them, or plain digits (Babel takes "5," and ",5" too).
  var STRICT = new RegExp("^[+-]?(?:\\d{1,3}(?:" + G + "\\d{3})+(?:" + D + "\\d+)?|\\d+(?:" + D + "\\d*)?|" + D + "\\d+)$");

  /* parse_number: Babel's strict reading of the reader's notation (1.355,25 / 1355,25 / 1.355),
   * plus one lenient case: a single separator of the other notation with no grouping (1355.25
   * from the numeric keypad) is the decimal point. null for anything else. */
  function parseNumber(text) {
    var cleaned = String(text).trim().replace(/[\u00a0\u202f ]/g, "");
    if (!cleaned || /e/i.test(cleaned)) { return null; }
    if (STRICT.test(cleaned)) {
      return canonical(cleaned.split(GROUP).join("").replace(DECIMAL, "."));
    }
    var unsigned = cleaned.replace(/^[+-]+/, "");
    var at = unsigned.indexOf(GROUP);
    var whole = at < 0 ? unsigned : unsigned.slice(0, at), fraction = at < 0 ? "" : unsigned.slice(at + GROUP.length);
    if (cleaned.split(GROUP).length !== 2 || cleaned.indexOf(DECIMAL) >= 0 || fraction.length === 3 ||
        !/^\d+$/.test(whole) || !/^\d+$/.test(fraction)) {
      return null;
    }
    return canonical(cleaned.replace(GROUP, "."));
  }

  /* num / den rounded half away from zero (Decimal's ROUND_HALF_UP); den > 0. */
  function divHalfUp(num, den) {
    var negative = num < ZERO, abs = negative ? -num : num;
    var q = abs / den, r = abs % den;
    if (r * BigInt(2) >= den) { q += BigInt(1); }
    return negative ? -q : q;
  }

  /* num / den rounded half to even (Decimal.quantize's default); den > 0. */
  function divHalfEven(num, den) {
    var negative = num < ZERO, abs = negative ? -num : num;
    var q = abs / den, r = abs % den, twice = r * BigInt(2);
    if (twice > den || (twice === den && q % BigInt(2) === BigInt(1))) { q += BigInt(1); }
    return negative ? -q : q;
  }

  /* totals.line_amount: quantity × price × (100 − discount) / 100, half-up to the cent (in cents). */
  function lineAmount(quantity, price, discount) {
    var keep = HUNDRED * pow10(discount.s) - discount.n;
    var num = quantity.n * price.n * keep * HUNDRED;
    var den = pow10(quantity.s + price.s + discount.s) * HUNDRED;
    return divHalfUp(num, den);
  }

  /* totals.percent_of: rate × amount / 100, half-up to the cent (amount and result in cents). */
  function percentOf(rate, cents) { return divHalfUp(rate.n * cents, pow10(rate.s) * HUNDRED); }

  /* A rate to two places, as compute_totals keys its blocks (22, 22.0 and 22.00 are one rate). */
  function rateKey(rate) { return { n: divHalfEven(rate.n * HUNDRED, pow10(rate.s)), s: 2 }; }

  function cents(value) { return divHalfUp(value.n * HUNDRED, pow10(value.s)); }

  function isZero(value) { return value.n === ZERO; }

  // --- showing numbers as app.i18n does ------------------------------------------------------------

  function grouped(digits) {
    var out = "";
    while (digits.length > 3) {
      out = GROUP + digits.slice(-3) + out;
      digits = digits.slice(0, -3);
    }
    return digits + out;
  }

  function money(cents) {
    var negative = cents < ZERO, abs = negative ? -cents : cents;
    var fraction = (abs % HUNDRED).toString().padStart(2, "0");
    var number = grouped((abs / HUNDRED).toString()) + DECIMAL + fraction;
    return (negative ? "-" : "") + config.money.prefix + number + config.money.suffix;
  }

  /* format_number of a two-place rate: 22, 5,5 (no trailing zeros). */
  function rateText(rate) {
    var abs = rate.n < ZERO ? -rate.n : rate.n, text = abs.toString().padStart(3, "0");
    var whole = text.slice(0, -2), fraction = text.slice(-2).replace(/0+$/, "");
    return (rate.n < ZERO ? "-" : "") + grouped(whole) + (fraction ? DECIMAL + fraction : "");
  }

  // --- reading the rows -------------------------------------------------------------------------

  function field(row, name) { return row.querySelector("[data-field='" + name + "']"); }

  function chosenProduct(row) {
    var select = field(row, "product_id");
    var option = select && select.options[select.selectedIndex];
    return option && option.value ? option.dataset : null;
  }

  function typed(row, name) {
    var input = field(row, name);
    return input ? input.value.trim() : "";
  }

  var DEFAULTS = { quantity: "1", unit_price: "0", discount: "0", tax_rate: config.default_tax_rate };

  /* One row as clean_line sees it: blank numbers take the product's value, else the default.
   * null for a spare row (nothing says what is billed); {invalid} when a number is unreadable. */
  function readRow(row) {
    var product = chosenProduct(row);
    if (!product && !typed(row, "description") && !typed(row, "unit_price")) { return null; }
    var values = {}, invalid = [];
    ["quantity", "unit_price", "discount", "tax_rate"].forEach(function (name) {
      var text = typed(row, name), value;
      if (text) {
        value = parseNumber(text);
      } else if (product && product[name] && name !== "quantity" && name !== "discount") {
        value = parseNumber(product[name]);
      } else {
        value = canonical(DEFAULTS[name]);
      }
      if (value === null) { invalid.push(name); }
      values[name] = value;
    });
    values.nature = typed(row, "vat_nature") || (product && !typed(row, "tax_rate") ? product.vat_nature : "") || "";
    values.invalid = invalid;
    return values;
  }

  // --- totals.compute_totals ----------------------------------------------------------------------

  function compute(lines, terms) {
    var blocks = {}, order = [], subtotal = ZERO;

    function block(rate, nature) {
      var key = rate.n.toString() + "|" + nature;
      if (!blocks[key]) {
        blocks[key] = { rate: rate, nature: nature, taxable: ZERO };
        order.push(key);
      }
      return blocks[key];
    }

    lines.forEach(function (line) {
      var rate = rateKey(line.tax_rate);
      block(rate, isZero(rate) ? line.nature : "").taxable += line.amount;
      subtotal += line.amount;
    });

    var pensionFund = ZERO, fundRate = canonical(terms.pension_fund_rate);
    if (terms.pension_fund_type && !isZero(fundRate)) {
      pensionFund = percentOf(fundRate, subtotal);
      var fundTaxRate = rateKey(canonical(terms.pension_fund_tax_rate)), fundNature = "";
      if (isZero(fundTaxRate)) {
        var zeroLine = lines.filter(function (line) { return isZero(line.tax_rate) && line.nature; })[0];
        fundNature = zeroLine ? zeroLine.nature : "";
      }
      block(fundTaxRate, fundNature).taxable += pensionFund;
    }

    var stampDuty = ZERO;
    if (terms.stamp_duty_auto) {
      var vatFree = ZERO;
      order.forEach(function (key) {
        var b = blocks[key];
        if (isZero(b.rate) && config.stamp.natures.indexOf(b.nature) >= 0) { vatFree += b.taxable; }
      });
      if (vatFree > cents(canonical(config.stamp.threshold))) { stampDuty = cents(canonical(config.stamp.amount)); }
    }
    if (stampDuty !== ZERO && terms.stamp_duty_charged) {
      block({ n: ZERO, s: 2 }, config.stamp.nature).taxable += stampDuty;
    }

    var taxes = order.map(function (key) { return blocks[key]; }).sort(function (a, b) {
      if (a.rate.n !== b.rate.n) { return a.rate.n < b.rate.n ? -1 : 1; }
      return a.nature < b.nature ? -1 : (a.nature > b.nature ? 1 : 0);
    });
    var taxTotal = ZERO, taxable = ZERO;
    taxes.forEach(function (b) {
      b.tax = percentOf(b.rate, b.taxable);
      taxTotal += b.tax;
      taxable += b.taxable;
    });
    var total = taxable + taxTotal;

    var withholding = ZERO, withholdingRate = canonical(terms.withholding_rate);
    if (!isZero(withholdingRate)) {
      var base = subtotal + (terms.pension_fund_type === config.withheld_fund ? pensionFund : ZERO);
      withholding = percentOf(withholdingRate, base);
    }
    var netToPay = total - withholding - (terms.split_payment ? taxTotal : ZERO);
    return { subtotal: subtotal, taxes: taxes, pensionFund: pensionFund, stampDuty: stampDuty, taxTotal: taxTotal,
             total: total, withholding: withholding, netToPay: netToPay };
  }

  // --- the page -----------------------------------------------------------------------------------

  var totalsTable = document.getElementById("editor-totals");

  function show(name, text, visible) {
    var cell = totalsTable.querySelector("[data-total='" + name + "']");
    cell.textContent = text;
    var row = totalsTable.querySelector("[data-row='" + name + "']");
    if (row) { row.hidden = !visible; }
  }

  function refresh() {
    var lines = [];
    Array.prototype.forEach.call(tbody.querySelectorAll("tr.editor-line"), function (row) {
      var values = readRow(row), cell = row.querySelector("[data-amount]");
      ["quantity", "unit_price", "discount", "tax_rate"].forEach(function (name) {
        var input = field(row, name);
        var unreadable = values !== null && values.invalid.indexOf(name) >= 0;
        input.classList.toggle("editor-unreadable", unreadable);
        input.title = unreadable ? config.labels.unreadable : "";
      });
      if (values === null || values.invalid.length) {
        cell.textContent = values === null ? "" : "—";
        return;
      }
      values.amount = lineAmount(values.quantity, values.unit_price, values.discount);
      cell.textContent = money(values.amount);
      lines.push(values);
    });
    var totals = compute(lines, config.terms);
    show("subtotal", money(totals.subtotal), true);
    show("pension_fund", money(totals.pensionFund), totals.pensionFund !== ZERO);
    show("stamp_duty", money(totals.stampDuty), totals.stampDuty !== ZERO);
    show("tax_total", money(totals.taxTotal), true);
    show("total", money(totals.total), true);
    show("withholding", "− " + money(totals.withholding), totals.withholding !== ZERO);
    show("split_payment", "− " + money(totals.taxTotal), config.terms.split_payment && totals.taxTotal !== ZERO);
    show("net_to_pay", money(totals.netToPay), totals.netToPay !== totals.total);
    var vat = document.getElementById("editor-vat");
    vat.textContent = "";
    totals.taxes.forEach(function (b) {
      var row = document.createElement("tr"), label = document.createElement("td"), amount = document.createElement("td");
      label.textContent = config.labels.vat.replace("{rate}", rateText(b.rate)).replace("{taxable}", money(b.taxable)) +
        (b.nature ? " (" + b.nature + ")" : "");
      amount.textContent = money(b.tax);
      amount.className = "text-right";
      row.dataset.vatRate = rateText(b.rate);
      row.appendChild(label);
      row.appendChild(amount);
      vat.appendChild(row);
    });
  }

  function grow(textarea) {
    textarea.style.height = "auto";
    textarea.style.height = textarea.scrollHeight + 2 + "px";
  }

  function nextIndex() {
    var highest = -1;
    Array.prototype.forEach.call(tbody.querySelectorAll("[name^='lines-']"), function (input) {
      var match = /^lines-(\d+)-/.exec(input.name);
      if (match) { highest = Math.max(highest, parseInt(match[1], 10)); }
    });
    return highest + 1;
  }

  /* A spare row's prefilled values (quantity 1, the default VAT rate) give way to a product's. */
  function markPrefilled(row) {
    ["description", "unit_price", "tax_rate", "vat_nature"].forEach(function (name) {
      var input = field(row, name);
      if (input) { input.dataset.prefilled = "1"; }
    });
  }

  function addRow() {
    var holder = document.createElement("tbody");
    holder.innerHTML = template.innerHTML.replace(/__INDEX__/g, String(nextIndex()));
    var row = holder.querySelector("tr");
    tbody.appendChild(row);
    markPrefilled(row);
    refresh();
    return row;
  }

  function fillFromProduct(row) {
    var product = chosenProduct(row);
    if (!product) { return; }
    ["description", "unit_price", "tax_rate", "vat_nature"].forEach(function (name) {
      var input = field(row, name);
      if (input && (input.value.trim() === "" || input.dataset.prefilled)) {
        input.value = product[name] || (name === "tax_rate" ? input.value : "");
        input.dataset.prefilled = "1";
        if (input.tagName === "TEXTAREA") { grow(input); }
      }
    });
  }

  form.addEventListener("input", function (event) {
    var target = event.target;
    if (target.dataset && target.dataset.field) { delete target.dataset.prefilled; }
    if (target.tagName === "TEXTAREA") { grow(target); }
    refresh();
  });

  form.addEventListener("change", function (event) {
    var row = event.target.closest("tr.editor-line");
    if (row && event.target.dataset.field === "product_id") {
      fillFromProduct(row);
    } else if (event.target.dataset && event.target.dataset.field) {
      delete event.target.dataset.prefilled;
    }
    refresh();
  });

  form.addEventListener("click", function (event) {
    var button = event.target.closest("[data-remove]");
    if (!button) { return; }
    var row = button.closest("tr.editor-line"), next = row.nextElementSibling || row.previousElementSibling;
    row.remove();
    refresh();
    var focus = next && field(next, "description");
    if (focus) { focus.focus(); } else { document.getElementById("editor-add-line").focus(); }
  });

  /* Enter in a line's box goes down a row, and in the last row adds one (in the description
   * it is a new line of text, as in any text box). It never submits the form by accident. */
  form.addEventListener("keydown", function (event) {
    if (event.key !== "Enter" || event.target.tagName === "TEXTAREA" || event.isComposing) { return; }
    var row = event.target.closest("tr.editor-line");
    if (!row) { return; }
    event.preventDefault();
    var last = !row.nextElementSibling;
    var below = last ? addRow() : row.nextElementSibling;
    (field(below, last ? "description" : event.target.dataset.field) || field(below, "description")).focus();
  });

  document.getElementById("editor-add-line").addEventListener("click", function () {
    field(addRow(), "description").focus();
  });

  var saving = false;
  form.addEventListener("submit", function (event) {
    if (saving) { event.preventDefault(); return; }  // one document per Save, however often it is pressed
    saving = true;
  });

  /* The arithmetic alone, for tests that hold it against app/billing/totals.py: rows as typed
   * (in the reader's notation), tax terms as in #editor-config; figures back as "1640.22". */
  function centsText(value) {
    var negative = value < ZERO, abs = negative ? -value : value;
    return (negative ? "-" : "") + (abs / HUNDRED).toString() + "." + (abs % HUNDRED).toString().padStart(2, "0");
  }
  window.clientelaEditor = {
    parseNumber: function (text) {
      var value = parseNumber(text);
      return value === null ? null : { n: value.n.toString(), s: value.s };
    },
    totals: function (rows, terms) {
      var lines = rows.map(function (row) {
        var line = { quantity: parseNumber(row.quantity), unit_price: parseNumber(row.unit_price),
                     discount: parseNumber(row.discount), tax_rate: parseNumber(row.tax_rate), nature: row.nature || "" };
        line.amount = lineAmount(line.quantity, line.unit_price, line.discount);
        return line;
      });
      var totals = compute(lines, terms);
      return { amounts: lines.map(function (line) { return centsText(line.amount); }),
               subtotal: centsText(totals.subtotal), tax_total: centsText(totals.taxTotal), total: centsText(totals.total),
               pension_fund: centsText(totals.pensionFund), stamp_duty: centsText(totals.stampDuty),
               withholding: centsText(totals.withholding), net_to_pay: centsText(totals.netToPay),
               taxes: totals.taxes.map(function (b) { return [centsText(b.rate.n), b.nature, centsText(b.taxable), centsText(b.tax)]; }) };
    },
  };

  Array.prototype.forEach.call(tbody.querySelectorAll("tr.editor-line"), function (row) {
    if (!typed(row, "description") && !typed(row, "unit_price") && !chosenProduct(row)) { markPrefilled(row); }
  });
  Array.prototype.forEach.call(form.querySelectorAll("textarea"), grow);
  refresh();
}());
