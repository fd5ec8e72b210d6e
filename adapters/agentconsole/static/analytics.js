// tier0 analytics page. Plain script, no build step: the charts are SVG
// drawn here. Text from the server is only ever set with textContent.
(function () {
  'use strict';
  var NS = 'http://www.w3.org/2000/svg';
  var $ = function (id) { return document.getElementById(id); };
  var colors = { confirmed: '#2a9d8f', assumed: '#8ecae6', handoffs: '#e76f51', bars: '#457b9d', csat: ['#e63946', '#f4a261', '#e9c46a', '#8ab17d', '#2a9d8f'] };
  var reasonNames = {
    customer_request: 'Customer asked for a person',
    consulting_cap: 'Consulting questions ran out',
    not_helpful: 'Answers were not helpful',
    frustration: 'Frustrated customer',
    none: 'No reason given',
    other: 'Other'
  };
  var clockNames = { first_response: 'First response', resolution: 'Resolution', other: 'Other' };

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined && text !== null) { e.textContent = String(text); }
    return e;
  }

  function svg(tag, attrs, text) {
    var e = document.createElementNS(NS, tag);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, String(attrs[k])); });
    if (text !== undefined && text !== null) { e.textContent = String(text); }
    return e;
  }

  function duration(s) {
    s = Math.round(s);
    if (s < 60) { return s + ' s'; }
    if (s < 3600) { return Math.round(s / 60) + ' min'; }
    if (s < 86400) { var h = Math.floor(s / 3600), m = Math.round((s % 3600) / 60); return h + ' h' + (m ? ' ' + m + ' min' : ''); }
    var d = Math.floor(s / 86400), hh = Math.round((s % 86400) / 3600);
    return d + ' d' + (hh ? ' ' + hh + ' h' : '');
  }

  function plural(n, one, many) { return n + ' ' + (n === 1 ? one : many); }

  function percent(x) { return Math.round(x * 1000) / 10 + ' %'; }

  // nice rounds a maximum up to 1, 2 or 5 times a power of ten.
  function nice(max) {
    var p = Math.pow(10, Math.floor(Math.log10(max)));
    var steps = [1, 2, 5, 10];
    for (var i = 0; i < steps.length; i++) { if (steps[i] * p >= max) { return steps[i] * p; } }
    return 10 * p;
  }

  function empty(box, text) {
    box.replaceChildren(el('p', 'empty', text || 'No data in this range.'));
  }

  // columns draws vertical bars, stacked by series, one per entry:
  // entries [{label, values: {key: n}}], series [{key, name, color}].
  function columns(box, entries, series) {
    var max = 0;
    entries.forEach(function (e) {
      var t = 0;
      series.forEach(function (s) { t += e.values[s.key] || 0; });
      e.total = t;
      max = Math.max(max, t);
    });
    if (max === 0) { empty(box); return; }
    var top = nice(max);
    var W = 640, H = 230, left = 40, right = 8, up = 16, down = 30;
    var plotW = W - left - right, plotH = H - up - down;
    var slot = plotW / entries.length, bw = Math.max(1, slot * 0.7);
    var g = svg('svg', { viewBox: '0 0 ' + W + ' ' + H, role: 'img' });
    [0, top / 2, top].forEach(function (v) {
      var y = up + plotH - v / top * plotH;
      g.appendChild(svg('line', { x1: left, x2: W - right, y1: y, y2: y, class: 'axis' }));
      g.appendChild(svg('text', { x: left - 4, y: y + 4, 'text-anchor': 'end' }, Math.round(v * 10) / 10));
    });
    var every = Math.ceil(entries.length / 12);
    entries.forEach(function (e, i) {
      var x = left + i * slot + (slot - bw) / 2;
      var y = up + plotH;
      series.forEach(function (s) {
        var v = e.values[s.key] || 0;
        if (!v) { return; }
        var h = v / top * plotH;
        y -= h;
        var fill = Array.isArray(s.color) ? s.color[i % s.color.length] : s.color;
        var r = svg('rect', { x: x, y: y, width: bw, height: h, fill: fill, 'data-series': s.key, 'data-value': v });
        r.appendChild(svg('title', {}, e.label + ': ' + v + (s.name ? ' ' + s.name : '')));
        g.appendChild(r);
      });
      if (e.total > 0 && entries.length <= 31) {
        g.appendChild(svg('text', { x: x + bw / 2, y: y - 3, 'text-anchor': 'middle', class: 'bar-value' }, e.total));
      }
      if (i % every === 0) {
        g.appendChild(svg('text', { x: x + bw / 2, y: H - down + 14, 'text-anchor': 'middle', class: 'bar-label' }, e.label));
      }
    });
    box.replaceChildren(g);
  }

  // rows draws horizontal bars: items [{label, value, title}].
  function rows(box, items, color) {
    var max = 0;
    items.forEach(function (it) { max = Math.max(max, it.value); });
    if (max === 0) { empty(box); return; }
    var W = 640, rowH = 28, labelW = 240, valueW = 56;
    var H = items.length * rowH + 6;
    var g = svg('svg', { viewBox: '0 0 ' + W + ' ' + H, role: 'img', class: 'rows' });
    items.forEach(function (it, i) {
      var y = 3 + i * rowH;
      var w = Math.max(2, (W - labelW - valueW) * it.value / max);
      var row = svg('g', {});
      if (it.title) { row.appendChild(svg('title', {}, it.title)); }
      row.appendChild(svg('text', { x: labelW - 8, y: y + 18, 'text-anchor': 'end', class: 'bar-label' }, it.label));
      row.appendChild(svg('rect', { x: labelW, y: y + 5, width: w, height: rowH - 10, fill: color, 'data-value': it.value }));
      row.appendChild(svg('text', { x: labelW + w + 6, y: y + 18, class: 'bar-value' }, it.value));
      g.appendChild(row);
    });
    box.replaceChildren(g);
  }

  function kpi(id, name, value) {
    var box = el('div', 'kpi');
    box.id = 'kpi-' + id;
    box.appendChild(el('span', 'value', value));
    box.appendChild(el('span', 'name', name));
    return box;
  }

  function shortDay(day) { return day.slice(5); }

  function histogram(box, summary, h) {
    summary.textContent = h.count ? plural(h.count, 'ticket', 'tickets') + ' · average ' + duration(h.average_seconds) + ' · median ' + h.median : 'No tickets in this range.';
    columns(box, h.buckets.map(function (b) { return { label: b.label, values: { n: b.count } }; }), [{ key: 'n', name: 'tickets', color: colors.bars }]);
  }

  function render(r) {
    var t = r.totals;
    var sla = r.sla_breaches.reduce(function (a, c) { return a + c.count; }, 0);
    $('kpis').replaceChildren(
      kpi('conversations', 'Conversations', t.conversations),
      kpi('messages', 'Customer messages', t.messages),
      kpi('answered', 'Answered', t.answered),
      kpi('not-sure', 'Not sure', t.not_sure),
      kpi('deflection', 'Deflection rate', percent(t.deflection_rate)),
      kpi('confirmed', 'Confirmed resolved', t.confirmed_resolved),
      kpi('assumed', 'Assumed resolved', t.assumed_resolved),
      kpi('handoffs', 'Handed off', t.handoffs),
      kpi('csat', 'CSAT (' + plural(r.csat.count, 'rating', 'ratings') + ')', r.csat.count ? (Math.round(r.csat.average * 10) / 10) + ' / 5' : '–'),
      kpi('first-reply', 'Median first reply', r.first_reply.median || '–'),
      kpi('resolution', 'Median resolution', r.resolution.median || '–'),
      kpi('sla', 'SLA breaches', sla)
    );
    columns($('chart-conversations'), r.days.map(function (d) {
      return { label: shortDay(d.day), values: { c: d.conversations } };
    }), [{ key: 'c', name: 'conversations', color: colors.bars }]);
    columns($('chart-deflection'), r.days.map(function (d) {
      return { label: shortDay(d.day), values: { confirmed: d.answers_confirmed, assumed: d.answers_assumed, handoffs: d.handoffs } };
    }), [
      { key: 'confirmed', name: 'confirmed', color: colors.confirmed },
      { key: 'assumed', name: 'assumed', color: colors.assumed },
      { key: 'handoffs', name: 'handed off', color: colors.handoffs }
    ]);
    rows($('chart-reasons'), r.handoff_reasons.map(function (c) {
      return { label: reasonNames[c.label] || c.label, value: c.count, title: c.label };
    }), colors.handoffs);
    histogram($('chart-first-reply'), $('first-reply-summary'), r.first_reply);
    histogram($('chart-resolution'), $('resolution-summary'), r.resolution);
    $('csat-summary').textContent = r.csat.count ? plural(r.csat.count, 'rating', 'ratings') + ' · average ' + (Math.round(r.csat.average * 100) / 100) + ' / 5' : 'No ratings in this range.';
    columns($('chart-csat'), r.csat.scores.map(function (n, i) {
      return { label: String(i + 1), values: { n: n } };
    }), [{ key: 'n', name: 'ratings', color: colors.csat }]);
    rows($('chart-sla'), r.sla_breaches.map(function (c) {
      return { label: clockNames[c.label] || c.label, value: c.count, title: c.label };
    }), colors.handoffs);
    rows($('chart-languages'), (r.languages || []).map(function (c) {
      return { label: c.label.toUpperCase(), value: c.count, title: c.label };
    }), colors.confirmed);
    var body = $('gaps-body');
    body.replaceChildren();
    r.knowledge_gaps.forEach(function (g) {
      var tr = el('tr', 'gap');
      tr.appendChild(el('td', 'topic', g.label));
      tr.appendChild(el('td', 'count', g.count));
      tr.appendChild(el('td', 'examples', g.examples.join(' · ')));
      body.appendChild(tr);
    });
    $('gaps-empty').hidden = r.knowledge_gaps.length > 0;
    $('report').hidden = false;
    $('status').textContent = 'Figures of ' + r.from + ' to ' + r.to + ' (UTC).';
  }

  function load() {
    var days = $('range').value;
    $('status').textContent = 'Loading…';
    fetch('api/analytics?days=' + encodeURIComponent(days), { credentials: 'same-origin' }).then(function (res) {
      return res.json().catch(function () { return {}; }).then(function (d) {
        if (res.ok) { $('login-hint').hidden = true; render(d); return; }
        $('report').hidden = true;
        var code = d && d.error ? d.error.code : '';
        if (res.status === 401) {
          $('status').textContent = 'You are not logged in.';
          $('login-hint').hidden = false;
        } else if (code === 'not_configured') {
          $('status').textContent = 'Analytics is not configured on this server.';
        } else {
          $('status').textContent = d && d.error ? d.error.message : 'Could not load the figures (' + res.status + ').';
        }
      });
    }).catch(function () { $('status').textContent = 'Could not reach the server.'; });
  }

  document.addEventListener('DOMContentLoaded', function () {
    var m = /[?&]days=(\d+)/.exec(location.search);
    if (m && $('range').querySelector('option[value="' + m[1] + '"]')) { $('range').value = m[1]; }
    $('range').addEventListener('change', function () {
      history.replaceState(null, '', '?days=' + $('range').value);
      load();
    });
    $('range-form').addEventListener('submit', function (ev) { ev.preventDefault(); load(); });
    load();
  });
})();
