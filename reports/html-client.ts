// The one script of report.html (its hash is in the page's Content-Security-Policy): tables over
// the JSON data block that are searched, filtered, sorted and paged in the browser, so 100,000
// discrepancies are never 100,000 DOM rows — only the current page is. Values reach the page
// through textContent only, never as markup. Plain ES2017, no libraries, nothing fetched.
//
// Kept as text (not compiled TypeScript): it runs in the browser, and the page must carry exactly
// the bytes its hash was computed over.
export const CLIENT_SCRIPT = String.raw`(function () {
  'use strict';
  var data = JSON.parse(document.getElementById('report-data').textContent);

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = text;
    return e;
  }

  function makeTable(prefix, set, opts) {
    var root = document.getElementById(prefix + '-table');
    if (!root) return;
    var cols = set.columns;
    var rows = set.rows;
    var idx = {};
    cols.forEach(function (c, i) { idx[c] = i; });
    var shown = opts.visible.map(function (c) { return idx[c]; });
    var numeric = {};
    opts.numeric.forEach(function (c) { numeric[idx[c]] = true; });
    var long = {};
    (opts.long || []).forEach(function (c) { long[idx[c]] = true; });
    var state = { query: '', filters: {}, sort: null, desc: false, page: 0, size: 50 };
    var hay = null;
    var view = [];
    var open = {};
    var search = document.getElementById(prefix + '-search');
    var info = document.getElementById(prefix + '-info');
    var sizeSel = document.getElementById(prefix + '-size');
    var filterBox = document.getElementById(prefix + '-filters');

    (opts.filters || []).forEach(function (c) {
      var values = {};
      rows.forEach(function (r) { values[r[idx[c]]] = true; });
      var sel = el('select');
      sel.id = prefix + '-filter-' + c;
      sel.setAttribute('aria-label', c);
      var all = el('option', null, 'all ' + c);
      all.value = '\u0000all';
      sel.appendChild(all);
      Object.keys(values).sort().forEach(function (v) {
        var o = el('option', null, v === '' ? '(empty)' : v);
        o.value = v;
        sel.appendChild(o);
      });
      sel.addEventListener('change', function () {
        if (sel.value === '\u0000all') delete state.filters[c]; else state.filters[c] = sel.value;
        state.page = 0;
        refresh();
      });
      filterBox.appendChild(sel);
    });

    var thead = el('thead');
    var hr = el('tr');
    shown.forEach(function (ci) {
      var th = el('th', numeric[ci] ? 'num' : null, cols[ci]);
      th.setAttribute('data-col', cols[ci]);
      th.tabIndex = 0;
      var sortBy = function () {
        if (state.sort === ci) state.desc = !state.desc; else { state.sort = ci; state.desc = false; }
        refresh();
      };
      th.addEventListener('click', sortBy);
      th.addEventListener('keydown', function (e) { if (e.key === 'Enter') sortBy(); });
      hr.appendChild(th);
    });
    thead.appendChild(hr);
    var tbody = el('tbody');
    root.appendChild(thead);
    root.appendChild(tbody);

    function matches(i) {
      var r = rows[i];
      for (var c in state.filters) if (r[idx[c]] !== state.filters[c]) return false;
      if (!state.query) return true;
      if (!hay) hay = rows.map(function (row) { return row.join('\u0001').toLowerCase(); });
      return hay[i].indexOf(state.query) !== -1;
    }

    function compare(a, b) {
      var ci = state.sort;
      var x = rows[a][ci], y = rows[b][ci];
      // Empty cells last, whichever way the column is sorted.
      if (x === '' || y === '') return (x === '' ? 1 : 0) - (y === '' ? 1 : 0) || a - b;
      var r;
      if (numeric[ci]) {
        var nx = Number(x), ny = Number(y);
        r = nx < ny ? -1 : nx > ny ? 1 : 0;
      } else {
        r = x < y ? -1 : x > y ? 1 : 0;
      }
      if (state.desc) r = -r;
      return r || a - b;
    }

    function refresh() {
      view = [];
      for (var i = 0; i < rows.length; i++) if (matches(i)) view.push(i);
      if (state.sort !== null) view.sort(compare);
      render();
    }

    function detailRow(r) {
      var tr = el('tr', 'detail');
      var td = el('td');
      td.colSpan = shown.length;
      var dl = el('dl');
      cols.forEach(function (c, ci) {
        if (r[ci] === '') return;
        dl.appendChild(el('dt', null, c));
        dl.appendChild(el('dd', null, r[ci]));
      });
      td.appendChild(dl);
      tr.appendChild(td);
      return tr;
    }

    function render() {
      var pages = Math.max(1, Math.ceil(view.length / state.size));
      if (state.page >= pages) state.page = pages - 1;
      var from = state.page * state.size;
      var to = Math.min(view.length, from + state.size);
      while (tbody.firstChild) tbody.removeChild(tbody.firstChild);
      var frag = document.createDocumentFragment();
      for (var k = from; k < to; k++) {
        var r = rows[view[k]];
        var tr = el('tr', 'row');
        tr.setAttribute('data-id', r[0]);
        tr.tabIndex = 0;
        if (opts.flag !== undefined && r[idx[opts.flag]] === 'true') tr.className += ' flagged';
        shown.forEach(function (ci) { tr.appendChild(el('td', numeric[ci] ? 'num' : long[ci] ? 'long' : null, r[ci])); });
        (function (tr, r) {
          var toggle = function () {
            var id = r[0];
            if (open[id]) { delete open[id]; if (tr.nextSibling && tr.nextSibling.className === 'detail') tbody.removeChild(tr.nextSibling); }
            else { open[id] = true; tbody.insertBefore(detailRow(r), tr.nextSibling); }
          };
          tr.addEventListener('click', toggle);
          tr.addEventListener('keydown', function (e) { if (e.key === 'Enter') toggle(); });
        })(tr, r);
        frag.appendChild(tr);
        if (open[r[0]]) frag.appendChild(detailRow(r));
      }
      tbody.appendChild(frag);
      info.textContent = view.length
        ? 'Rows ' + (from + 1) + '–' + to + ' of ' + view.length +
          (view.length !== rows.length ? ' (filtered from ' + rows.length + ')' : '') +
          ', page ' + (state.page + 1) + ' of ' + pages
        : 'No rows' + (rows.length ? ' (filtered from ' + rows.length + ')' : '');
      document.getElementById(prefix + '-first').disabled = state.page === 0;
      document.getElementById(prefix + '-prev').disabled = state.page === 0;
      document.getElementById(prefix + '-next').disabled = state.page >= pages - 1;
      document.getElementById(prefix + '-last').disabled = state.page >= pages - 1;
      Array.prototype.forEach.call(thead.querySelectorAll('th'), function (th, i) {
        th.setAttribute('aria-sort', shown[i] === state.sort ? (state.desc ? 'descending' : 'ascending') : 'none');
      });
    }

    var timer = null;
    search.addEventListener('input', function () {
      clearTimeout(timer);
      timer = setTimeout(function () {
        state.query = search.value.trim().toLowerCase();
        state.page = 0;
        refresh();
      }, 120);
    });
    sizeSel.addEventListener('change', function () { state.size = Number(sizeSel.value); state.page = 0; render(); });
    var go = function (name, f) {
      document.getElementById(prefix + '-' + name).addEventListener('click', function () {
        var pages = Math.max(1, Math.ceil(view.length / state.size));
        state.page = Math.min(pages - 1, Math.max(0, f(state.page, pages)));
        render();
      });
    };
    go('first', function () { return 0; });
    go('prev', function (p) { return p - 1; });
    go('next', function (p) { return p + 1; });
    go('last', function (p, n) { return n - 1; });
    refresh();
  }

  makeTable('disc', data.discrepancies, {
    visible: ['id', 'entity', 'class', 'field', 'match_key', 'crm_value', 'erp_value', 'golden_value', 'currency',
      'money_impact', 'material', 'runs_open', 'status'],
    numeric: ['id', 'money_impact', 'runs_open', 'action_id'],
    filters: ['entity', 'class', 'status', 'material'],
    long: ['match_key', 'crm_value', 'erp_value', 'golden_value'],
    flag: 'material'
  });
  makeTable('act', data.actions, {
    visible: ['id', 'entity', 'kind', 'target_system', 'target_id', 'fields', 'why', 'status', 'decided_by'],
    numeric: ['id'],
    filters: ['entity', 'kind', 'status'],
    long: ['target_id', 'fields', 'why']
  });
})();
`;
