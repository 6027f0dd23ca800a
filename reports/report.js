/* Tables drawn from the JSON in #report-data, a page of rows at a time: search, filters, sort,
   paging, and (endpoints) rows that open to show what they group. Text only ever goes in
   through textContent, so nothing in the data can become markup. No network, no libraries. */
(function () {
  "use strict";
  var DATA = JSON.parse(document.getElementById("report-data").textContent);
  // vocabularies shown in their own order (most severe first), not alphabetically
  var RANK = { "severity": ["critical", "high", "medium", "low", "info"], "status": ["error", "alarm", "skip", "ok"],
               "flows status": ["over", "expired", "at limit", "within", "unlimited", "not on this plan", "unknown"],
               "endpoints status": ["over", "expired", "at limit", "within", "unlimited", "not on this plan",
                                    "unknown"] };
  function ranked(c) {
    var r = RANK[c];
    return function (a, b) {
      var ia = r ? r.indexOf(a) : -1, ib = r ? r.indexOf(b) : -1;
      if (ia >= 0 || ib >= 0) return (ia < 0 ? 99 : ia) - (ib < 0 ? 99 : ib);
      return a < b ? -1 : (a > b ? 1 : 0);
    };
  }
  var BADGE = { "severity": "sev-", "status": "st-", "flows status": "st-", "endpoints status": "st-", "action": "st-" };
  var PAGE_SIZES = [25, 50, 100, 500];
  var grids = [];

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    if (attrs) { for (var k in attrs) { if (attrs[k] !== null && attrs[k] !== undefined) node.setAttribute(k, attrs[k]); } }
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  function show(value, column) {
    if (value === null || value === undefined) return "";
    if (column === "muted" && typeof value === "string") return "muted: " + value;
    if (value === true) return "yes";
    if (value === false) return "no";
    if (typeof value === "number" && column.indexOf("share") >= 0) return Math.round(value * 100) + "%";
    if (typeof value === "number") return value.toLocaleString("en");
    return String(value);
  }

  function cell(value, column) {
    var td = el("td");
    var text = show(value, column);
    if (column === "muted" && typeof value === "string") {
      td.appendChild(el("span", { "class": "badge st-muted" }, "muted"));
      td.appendChild(document.createTextNode(" " + value.replace(/^muted: /, "")));
    } else if (BADGE[column] && text) {
      td.appendChild(el("span", { "class": "badge " + BADGE[column] + text.replace(/\s+/g, "-") }, text));
    } else {
      td.textContent = text;
      if (typeof value === "number") td.className = "num";
      // a long unbroken token (a URI, a key) may break anywhere; ordinary words never do
      else if (text.length > 60) td.className = "prose";  // a sentence: room to read it, few lines
      else if (/\S{16,}/.test(text)) td.className = "long";
    }
    return td;
  }

  function index(name, keyColumns) {
    var set = DATA[name];
    var map = new Map();
    if (!set) return map;
    var pos = keyColumns.map(function (c) { return set.columns.indexOf(c); });
    set.rows.forEach(function (row) { map.set(pos.map(function (p) { return row[p]; }).join("\u001f"), row); });
    return map;
  }

  function subtable(caption, headers, ids, cells) {
    var table = el("table");
    table.appendChild(el("caption", null, caption));
    var head = el("tr");
    headers.forEach(function (h) { head.appendChild(el("th", { scope: "col" }, h)); });
    table.appendChild(el("thead")).appendChild(head);
    var body = table.appendChild(el("tbody"));
    ids.forEach(function (id) {
      var tr = el("tr");
      cells(id).forEach(function (pair) { tr.appendChild(cell(pair[0], pair[1])); });
      body.appendChild(tr);
    });
    return table;
  }

  var lookups = null;
  function details(row, cols) {
    if (!lookups) lookups = { conns: index("connections", ["account", "environment", "id"]),
                              flows: index("flows", ["account", "environment", "id"]) };
    var acct = row[cols.indexOf("account")], env = row[cols.indexOf("environment")];
    var fcols = DATA.flows ? DATA.flows.columns : [];
    var box = el("div");
    box.appendChild(subtable("Connections grouped into this endpoint", ["connection", "name", "type", "enabled flows"],
      row[cols.indexOf("_connections")], function (id) {
        var c = lookups.conns.get([acct, env, id].join("\u001f")) || [];
        return [[id, "id"], [c[3], "name"], [c[4], "type"], [c[5], "enabled flows"]];
      }));
    box.appendChild(subtable("Enabled flows that reach it", ["flow", "name", "billable", "why"],
      row[cols.indexOf("_flows")], function (id) {
        var f = lookups.flows.get([acct, env, id].join("\u001f")) || [];
        return [[id, "id"], [f[fcols.indexOf("name")], "name"], [f[fcols.indexOf("billable")], "billable"],
                [f[fcols.indexOf("reason")], "reason"]];
      }));
    return box;
  }

  function Grid(host) {
    var name = host.getAttribute("data-dataset");
    var set = DATA[name] || { columns: [], rows: [] };
    var cols = set.columns;
    var shown = [];
    cols.forEach(function (c, i) { if (c.charAt(0) !== "_") shown.push(i); });
    var expandable = cols.indexOf("_connections") >= 0;
    var filters = (host.getAttribute("data-filters") || "").split(",").filter(function (c) { return cols.indexOf(c) >= 0; });
    var state = { query: "", filters: {}, sort: null, desc: false, page: 0, size: 50, open: new Set() };
    var hay = null, view = set.rows.map(function (_, i) { return i; });

    var controls = el("div", { "class": "controls", role: "search" });
    var search = el("input", { type: "search", placeholder: "Search every column", "aria-label": "Search " + name.replace("_", " ") });
    var lab = el("label", null, "Search");
    lab.appendChild(search);
    controls.appendChild(lab);
    filters.forEach(function (c) {
      var i = cols.indexOf(c);
      var values = Array.from(new Set(set.rows.map(function (r) { return show(r[i], c); }))).sort(ranked(c));
      var select = el("select", { "data-filter": c });
      select.appendChild(el("option", { value: "" }, "all"));
      values.forEach(function (v) { select.appendChild(el("option", { value: v }, v === "" ? "(none)" : v)); });
      var l = el("label", null, c);
      l.appendChild(select);
      controls.appendChild(l);
      select.addEventListener("change", function () {
        if (select.value === "" && select.selectedIndex === 0) delete state.filters[i]; else state.filters[i] = select.value;
        state.page = 0; filter();
      });
    });
    var sizeSel = el("select", { "aria-label": "Rows per page" });
    PAGE_SIZES.forEach(function (n) { var o = el("option", { value: n }, n + " rows"); if (n === 50) o.selected = true; sizeSel.appendChild(o); });
    var sl = el("label", null, "Per page");
    sl.appendChild(sizeSel);
    controls.appendChild(sl);
    host.appendChild(controls);

    var status = el("p", { "class": "status-line", "aria-live": "polite" });
    host.appendChild(status);
    var table = el("table", { "data-table": name });
    table.appendChild(el("caption", null, host.getAttribute("data-caption")));
    var headRow = el("tr");
    if (expandable) headRow.appendChild(el("th", { scope: "col" }, ""));
    shown.forEach(function (i) {
      var th = el("th", { scope: "col", "aria-sort": "none" });
      var b = el("button", { "class": "sort", type: "button" }, cols[i]);
      b.addEventListener("click", function () {
        if (state.sort === i) state.desc = !state.desc; else { state.sort = i; state.desc = false; }
        headRow.querySelectorAll("th").forEach(function (h) { h.setAttribute("aria-sort", "none"); });
        th.setAttribute("aria-sort", state.desc ? "descending" : "ascending");
        state.page = 0; filter();
      });
      th.appendChild(b);
      headRow.appendChild(th);
    });
    table.appendChild(el("thead")).appendChild(headRow);
    var tbody = table.appendChild(el("tbody"));
    host.appendChild(table);
    var pager = el("div", { "class": "pager" });
    var prev = el("button", { type: "button" }, "Previous");
    var next = el("button", { type: "button" }, "Next");
    var where = el("span");
    pager.appendChild(prev); pager.appendChild(where); pager.appendChild(next);
    host.appendChild(pager);

    function haystack() {
      if (!hay) hay = set.rows.map(function (r) { return shown.map(function (i) { return show(r[i], cols[i]); }).join("\u0001").toLowerCase(); });
      return hay;
    }

    function filter() {
      var terms = state.query.toLowerCase().split(/\s+/).filter(Boolean);
      var keys = Object.keys(state.filters);
      var h = terms.length ? haystack() : null;
      view = [];
      for (var r = 0; r < set.rows.length; r++) {
        var row = set.rows[r], ok = true;
        for (var k = 0; ok && k < keys.length; k++) { if (show(row[keys[k]], cols[keys[k]]) !== state.filters[keys[k]]) ok = false; }
        for (var t = 0; ok && t < terms.length; t++) { if (h[r].indexOf(terms[t]) < 0) ok = false; }
        if (ok) view.push(r);
      }
      if (state.sort !== null) {
        var s = state.sort, sign = state.desc ? -1 : 1;
        view.sort(function (a, b) {
          var x = set.rows[a][s], y = set.rows[b][s];
          if (x === y) return a - b;
          if (x === null) return 1;
          if (y === null) return -1;
          if (typeof x === "number" && typeof y === "number") return sign * (x - y);
          if (RANK[cols[s]]) return sign * ranked(cols[s])(x, y) || a - b;
          x = String(x).toLowerCase(); y = String(y).toLowerCase();
          return x === y ? a - b : (x < y ? -sign : sign);
        });
      }
      draw();
    }

    function draw() {
      var size = state.size, pages = Math.max(1, Math.ceil(view.length / size));
      state.page = Math.min(state.page, pages - 1);
      var start = state.page * size, end = Math.min(view.length, start + size);
      var frag = document.createDocumentFragment();
      for (var v = start; v < end; v++) {
        var r = view[v], row = set.rows[r];
        var tr = el("tr", { "data-row": r });
        var mutedAt = cols.indexOf("muted");
        if (mutedAt >= 0 && row[mutedAt] !== null && row[mutedAt] !== false) tr.className = "muted-row";
        if (expandable) {
          var td = el("td", { "class": "expand-cell" });
          var open = state.open.has(r);
          var btn = el("button", { "class": "expand", type: "button", "aria-expanded": open ? "true" : "false",
                                   "aria-label": "Show connections and flows of " + row[cols.indexOf("key")] }, open ? "−" : "+");
          btn.addEventListener("click", (function (rr) { return function () {
            if (state.open.has(rr)) state.open.delete(rr); else state.open.add(rr);
            draw();
          }; })(r));
          td.appendChild(btn);
          tr.appendChild(td);
        }
        for (var c = 0; c < shown.length; c++) tr.appendChild(cell(row[shown[c]], cols[shown[c]]));
        frag.appendChild(tr);
        if (expandable && state.open.has(r)) {
          var dtr = el("tr", { "class": "detail" });
          var dtd = el("td", { colspan: shown.length + 1 });
          dtd.appendChild(details(row, cols));
          dtr.appendChild(dtd);
          frag.appendChild(dtr);
        }
      }
      tbody.replaceChildren(frag);
      var total = set.rows.length;
      status.textContent = view.length === 0 ? "No rows" + (total ? " match (of " + total.toLocaleString("en") + ")." : ".")
        : "Rows " + (start + 1).toLocaleString("en") + "–" + end.toLocaleString("en") + " of " + view.length.toLocaleString("en")
          + (view.length < total ? " (filtered from " + total.toLocaleString("en") + ")" : "");
      where.textContent = "Page " + (state.page + 1) + " of " + pages;
      prev.disabled = state.page === 0;
      next.disabled = state.page >= pages - 1;
      host.setAttribute("data-visible", String(view.length));
    }

    var timer = null;
    search.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(function () { state.query = search.value; state.page = 0; filter(); }, 120);
    });
    sizeSel.addEventListener("change", function () { state.size = Number(sizeSel.value); state.page = 0; draw(); });
    prev.addEventListener("click", function () { state.page -= 1; draw(); });
    next.addEventListener("click", function () { state.page += 1; draw(); });
    draw();
    return { printAll: function (on) { state.size = on ? Math.max(view.length, 1) : Number(sizeSel.value); state.page = 0; draw(); } };
  }

  document.querySelectorAll(".grid").forEach(function (host) { grids.push(Grid(host)); });
  // print every row that the filters leave, not only the page on screen
  window.addEventListener("beforeprint", function () { grids.forEach(function (g) { g.printAll(true); }); });
  window.addEventListener("afterprint", function () { grids.forEach(function (g) { g.printAll(false); }); });
  document.documentElement.setAttribute("data-ready", "true");
})();
