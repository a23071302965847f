(function () {
  "use strict";
  // Every string from the run is untrusted: it only ever reaches the page as textContent.
  var data = JSON.parse(document.getElementById("report-data").textContent);
  var S = data.strings, COLS = data.columns, ROWS = data.rows, PAGE = data.page_size;
  var body = document.getElementById("matrix-body");
  var $ = function (id) { return document.getElementById(id); };
  var filters = { status: $("f-status"), suite: $("f-suite"), tag: $("f-tag"), search: $("f-search") };
  var page = 0, shown = ROWS, renders = 0;

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }
  function add(parent, child) { parent.appendChild(child); return child; }
  function str(i) { return i === null || i === undefined ? null : S[i]; }
  function num(x) { return x === null || x === undefined ? "\u2014" : x.toFixed(2); }
  function pct(x) { return Math.round(x * 100) + "%"; }
  function usd(x) { return x === null ? "n/a" : "$" + (x > 0 && x < 1 ? x.toFixed(4) : x.toFixed(2)); }
  function interval(iv) { return "[" + pct(iv[0]) + ", " + pct(iv[1]) + "]"; }
  function cellsOf(row) { return Object.keys(row.x).map(function (k) { return row.x[k]; }); }

  function searchText(row) {
    if (row._text === undefined) {
      var parts = [row.s, row.c, row.t.join(" ")];
      cellsOf(row).forEach(function (c) {
        c.o.forEach(function (o) { parts.push(S[o]); });
        if (c.e !== null) parts.push(S[c.e]);
        if (c.m.length) parts.push(S[c.m[c.m.length - 1][1]]);
        c.f.forEach(function (f) { parts.push(f); });
      });
      row._text = parts.join("\n").toLowerCase();
    }
    return row._text;
  }

  function matches(row, status, suite, tag, query) {
    if (suite && row.s !== suite) return false;
    if (tag && row.t.indexOf(tag) < 0) return false;
    var cells = cellsOf(row);
    var any = function (test) { return cells.some(test); };
    if (status === "failed" && !any(function (c) { return c.st !== "pass"; })) return false;
    if (status === "regression" && !any(function (c) { return c.b === "regression"; })) return false;
    if (status === "error" && !any(function (c) { return c.st === "error"; })) return false;
    if (status === "flaky" && !any(function (c) { return c.fl; })) return false;
    if (status === "changed" && !any(function (c) { return c.bs && c.bs.same.indexOf(false) >= 0; })) return false;
    return !query || searchText(row).indexOf(query) >= 0;
  }

  function cellNode(c) {
    var td = el("td", "cell k-" + c.k);
    add(td, el("span", "badge k-" + c.k, c.k));
    td.appendChild(document.createTextNode(" "));
    add(td, el("span", "score", num(c.sc)));
    if (c.n > 1) add(td, el("small", null, " " + pct(c.pr) + " of " + c.n + " " + interval(c.iv)));
    var out = c.o.length ? S[c.o[0]] : "";
    add(td, el("div", "out", out.length > 300 ? out.slice(0, 297) + "..." : out));
    if (c.e !== null) add(td, el("div", "err", S[c.e].slice(0, 200)));
    if (c.f.length) {
      var list = add(td, el("ul", "failed"));
      c.f.forEach(function (name) { add(list, el("li", null, name)); });
    }
    return td;
  }

  function detailNode(column, c) {
    var section = el("section", "case-detail");
    var head = add(section, el("h4", null, column + " "));
    add(head, el("small", null, c.id));
    if (c.u !== null) add(section, el("p", "err", "uncalibrated: " + S[c.u]));
    var line = add(section, el("p"));
    add(line, el("span", "badge k-" + c.k, c.k));
    line.appendChild(document.createTextNode(
      " score " + num(c.sc) + "; " + c.n + " repeat(s), " + pct(c.pr) + " passed " + interval(c.iv) +
      "; " + c.mc + "; " + c.tk + " tokens; " + Math.round(c.l * 1000) + " ms; est. cost " + usd(c.c)));
    if (c.b) {
      line.appendChild(document.createTextNode("; baseline: "));
      add(line, el("span", "badge b-" + c.b, c.b));
    }
    if (c.e !== null) add(section, el("pre", "err", S[c.e]));
    var messages = add(section, el("details"));
    add(messages, el("summary", null, "messages (" + c.m.length + ")"));
    c.m.forEach(function (m) {
      var box = add(messages, el("div", "msg"));
      add(box, el("b", null, m[0]));
      add(box, el("pre", null, S[m[1]]));
    });
    c.o.forEach(function (o, i) {
      add(section, el("h5", null, c.n > 1 ? "output (repeat " + (i + 1) + ")" : "output"));
      add(section, el("pre", "output", S[o]));
      var table = add(section, el("table", "checks"));
      var hr = add(add(table, el("thead")), el("tr"));
      ["check", "result", "score", "reason"].forEach(function (h) { add(hr, el("th", null, h)); });
      var tb = add(table, el("tbody"));
      (c.ch[i] || []).forEach(function (k) {
        var tr = add(tb, el("tr", k[2] ? "ok" : "bad"));
        add(tr, el("td", null, k[1] ? k[0] + " (" + k[1] + ")" : k[0]));
        add(tr, el("td", null, k[2] ? "pass" : "FAIL"));
        add(tr, el("td", "n", num(k[3])));
        add(tr, el("td", null, str(k[4])));
      });
    });
    var base = c.bs;
    if (base) {
      add(section, el("h5", null, "baseline: " + (base.p ? "passed" : "failed") + ", score " + num(base.sc) +
        (base.pc ? "; the rendered prompt changed since" : "")));
      if (base.o.length && base.o[0] !== null) add(section, el("pre", "output", S[base.o[0]]));
      else if (base.same.length) add(section, el("p", null, base.same[0] ? "Output unchanged since the baseline." :
        "Output changed since the baseline (the baseline records only a digest of it)."));
      if (base.d) {
        var diff = add(section, el("pre", "diff"));
        base.d.forEach(function (op) {
          if (op[0] === "=") diff.appendChild(document.createTextNode(op[1]));
          else add(diff, el(op[0] === "-" ? "del" : "ins", null, op[1]));
        });
      }
    }
    return section;
  }

  function rowNodes(row) {
    var tr = el("tr", "row");
    var head = add(tr, el("td", "case"));
    add(head, el("b", null, row.c));
    add(head, el("br"));
    add(head, el("small", null, row.s));
    row.t.forEach(function (t) { head.appendChild(document.createTextNode(" ")); add(head, el("span", "tag", t)); });
    COLS.forEach(function (column, i) {
      var c = row.x[i];
      add(tr, c ? cellNode(c) : el("td", "cell empty"));
    });
    var detail = el("tr", "detail");
    var td = add(detail, el("td"));
    td.colSpan = COLS.length + 1;
    var box = add(td, el("details"));
    add(box, el("summary", null, "details of " + row.c));
    box.addEventListener("toggle", function () {
      if (!box.open || box.dataset.filled) return;
      box.dataset.filled = "1";
      COLS.forEach(function (column, i) { if (row.x[i]) add(box, detailNode(column, row.x[i])); });
    });
    return [tr, detail];
  }

  function render() {
    var pages = Math.max(1, Math.ceil(shown.length / PAGE));
    page = Math.min(page, pages - 1);
    var fragment = document.createDocumentFragment();
    shown.slice(page * PAGE, (page + 1) * PAGE).forEach(function (row) {
      rowNodes(row).forEach(function (node) { fragment.appendChild(node); });
    });
    body.textContent = "";
    body.appendChild(fragment);
    $("f-count").textContent = shown.length + " of " + ROWS.length + " cases";
    $("p-info").textContent = "page " + (page + 1) + " of " + pages;
    $("p-prev").disabled = page === 0;
    $("p-next").disabled = page >= pages - 1;
    renders += 1;
    document.documentElement.setAttribute("data-renders", String(renders));
  }

  function apply() {
    var status = filters.status.value, suite = filters.suite.value, tag = filters.tag.value;
    var query = filters.search.value.trim().toLowerCase();
    shown = ROWS.filter(function (row) { return matches(row, status, suite, tag, query); });
    page = 0;
    render();
  }

  var timer = null;
  ["status", "suite", "tag"].forEach(function (name) { filters[name].addEventListener("change", apply); });
  filters.search.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(apply, 150);
  });
  $("filters").addEventListener("submit", function (event) { event.preventDefault(); });
  $("p-prev").addEventListener("click", function () { page -= 1; render(); });
  $("p-next").addEventListener("click", function () { page += 1; render(); });
  $("filters").hidden = false;
  $("pager").hidden = false;
  $("pager-static").hidden = true;
  render();
  document.documentElement.setAttribute("data-ready", "1");
})();
