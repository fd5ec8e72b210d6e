// tier0 agent console. Plain script, no build step. Text from the server
// is only ever set with textContent, never parsed as HTML.
(function () {
  'use strict';
  var api = 'api/';
  var csrf = '';
  var current = null; // conversation key of the open ticket
  var currentTag = ''; // its tag on the live update stream
  var timer = null;
  // Live updates: the stream says when to reload; polling stays as a
  // fallback, slow while the stream is open, every 3 s when it is not.
  var stream = null;
  var streamRetry = null;
  var pending = null; // debounced reload after stream events
  var reloadTicket = false;
  var fastPoll = 3000;
  var slowPoll = 15000;
  var $ = function (id) { return document.getElementById(id); };

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined && text !== null) { e.textContent = String(text); }
    return e;
  }

  function actionID() {
    var b = new Uint8Array(16);
    crypto.getRandomValues(b);
    return Array.prototype.map.call(b, function (x) { return (x + 256).toString(16).slice(1); }).join('');
  }

  function call(method, path, body) {
    var opts = { method: method, credentials: 'same-origin', headers: {} };
    if (body !== undefined) {
      opts.headers['Content-Type'] = 'application/json';
      opts.body = JSON.stringify(body);
    }
    if (method !== 'GET' && csrf) { opts.headers['X-CSRF-Token'] = csrf; }
    return fetch(api + path, opts).then(function (res) {
      if (res.status === 204) { return null; }
      return res.json().catch(function () { return {}; }).then(function (data) {
        if (res.status === 401 && path !== 'login') { showLogin(); }
        if (!res.ok) {
          var msg = data && data.error ? data.error.message : 'request failed (' + res.status + ')';
          var err = new Error(msg);
          err.status = res.status;
          throw err;
        }
        return data;
      });
    });
  }

  function poll(ms) {
    if (timer) { clearInterval(timer); }
    timer = setInterval(refresh, ms);
  }

  function setLive(on) {
    $('live').hidden = false;
    $('live').textContent = on ? 'live' : 'polling';
    $('live').className = on ? 'live-on' : 'live-off';
    $('live').title = on ? 'Changes show at once' : 'Live updates unavailable; checking every few seconds';
  }

  function stopLive() {
    if (stream) { stream.close(); stream = null; }
    if (streamRetry) { clearTimeout(streamRetry); streamRetry = null; }
    $('live').hidden = true;
  }

  function startLive() {
    if (!window.EventSource || stream) { return; }
    var es = new EventSource(api + 'stream');
    stream = es;
    es.addEventListener('open', function () { setLive(true); poll(slowPoll); refresh(); });
    es.addEventListener('changed', function (ev) {
      var d;
      try { d = JSON.parse(ev.data); } catch (e) { d = { queue: true, tickets: [] }; }
      var tickets = d.tickets || [];
      // The open ticket reloads when it is named, when the event names
      // none (too many changes), or when its tag is not known yet.
      if (current && (tickets.indexOf(currentTag) >= 0 || tickets.length === 0 || !currentTag)) { reloadTicket = true; }
      if (pending) { return; }
      pending = setTimeout(function () {
        pending = null;
        var withTicket = reloadTicket;
        reloadTicket = false;
        refreshQueue();
        if (current && withTicket) { loadTicket(current, false); }
      }, 150);
    });
    es.addEventListener('logout', function () { stopLive(); showLogin(); });
    es.addEventListener('error', function () {
      setLive(false);
      poll(fastPoll);
      if (es.readyState === EventSource.CLOSED) {
        // Refused (logged out, too many tabs, shutting down): try again later.
        stream = null;
        if (csrf && !streamRetry) {
          streamRetry = setTimeout(function () { streamRetry = null; if (csrf) { startLive(); } }, 30000);
        }
      }
    });
  }

  function showLogin() {
    csrf = '';
    current = null;
    currentTag = '';
    stopLive();
    if (timer) { clearInterval(timer); timer = null; }
    $('app').hidden = true;
    $('logout').hidden = true;
    $('analytics-link').hidden = true;
    $('who').textContent = '';
    $('login').hidden = false;
  }

  function showApp(s) {
    csrf = s.csrf_token;
    $('who').textContent = s.name;
    $('login').hidden = true;
    $('logout').hidden = false;
    $('analytics-link').hidden = false;
    $('app').hidden = false;
    refresh();
    poll(fastPoll);
    startLive();
  }

  function age(iso) {
    var s = Math.max(0, Math.floor((Date.now() - new Date(iso).getTime()) / 1000));
    if (s < 60) { return s + 's'; }
    if (s < 3600) { return Math.floor(s / 60) + 'm'; }
    if (s < 86400) { return Math.floor(s / 3600) + 'h'; }
    return Math.floor(s / 86400) + 'd';
  }

  function renderQueue(list) {
    var body = $('queue-body');
    body.replaceChildren();
    list.forEach(function (t) {
      var tr = el('tr', 'queue-item');
      tr.dataset.key = t.conversation_key;
      if (t.conversation_key === current) { tr.classList.add('selected'); }
      tr.appendChild(el('td', 'prio-' + t.ticket.priority, t.ticket.priority));
      tr.appendChild(el('td', 'ticket-id', t.ticket.id));
      tr.appendChild(el('td', '', t.ticket.team));
      tr.appendChild(el('td', '', t.ticket.status));
      tr.appendChild(el('td', '', t.user.display_name || t.user.id));
      tr.appendChild(el('td', 'lang', (t.language || '').toUpperCase()));
      tr.appendChild(el('td', '', age(t.ticket.opened_at)));
      tr.addEventListener('click', function () { openTicket(t.conversation_key); });
      body.appendChild(tr);
    });
    $('queue-empty').hidden = list.length > 0;
  }

  function refreshQueue() {
    var team = $('team-filter').value.trim();
    call('GET', 'tickets' + (team ? '?team=' + encodeURIComponent(team) : ''))
      .then(function (d) { renderQueue(d.tickets); $('status').textContent = ''; })
      .catch(function (e) { $('status').textContent = e.message; });
  }

  function refresh() {
    refreshQueue();
    if (current) { loadTicket(current, false); }
  }

  function renderTicket(d, withSuggestion) {
    $('ticket').hidden = false;
    $('ticket-title').textContent = d.ticket.id + ' · ' + (d.customer.display_name || d.customer.id);
    $('ticket-meta').textContent = [d.ticket.priority, d.ticket.team, d.ticket.status,
      d.ticket.assignee ? 'assigned to ' + d.ticket.assignee : 'unassigned', 'via ' + d.channel].join(' · ');
    // Replies are not translated: the agent writes in the customer's language.
    $('ticket-language').textContent = d.language_name ?
      'Customer writes ' + d.language_name + ': reply in that language, replies are not translated.' : '';
    var tr = $('transcript');
    var atBottom = tr.scrollTop + tr.clientHeight >= tr.scrollHeight - 4;
    tr.replaceChildren();
    d.history.forEach(function (t) {
      var div = el('div', 'turn turn-' + t.role + (t.internal ? ' turn-internal' : ''));
      var who = t.internal ? 'Internal note · ' + (t.author_name || 'agent') : (t.author_name || t.role);
      div.appendChild(el('span', 'who', who + ' · ' + new Date(t.at).toLocaleTimeString()));
      div.appendChild(el('span', 'text', t.text));
      tr.appendChild(div);
    });
    if (atBottom) { tr.scrollTop = tr.scrollHeight; }
    var slots = $('slots');
    slots.replaceChildren();
    d.slots.forEach(function (s) {
      slots.appendChild(el('dt', '', s.question));
      slots.appendChild(el('dd', '', s.answer));
    });
    if (!withSuggestion) { return; }
    var sug = d.suggestion;
    $('suggestion').textContent = sug ? sug.text + (sug.confident ? '' : ' (not sure)') : (d.suggestion_error || 'No suggestion.');
    $('use-suggestion').hidden = !sug;
    $('use-suggestion').dataset.text = sug ? sug.text : '';
  }

  // The suggested reply is drafted when a ticket is opened, not on every poll.
  function loadTicket(key, withSuggestion) {
    var q = withSuggestion ? '' : '?suggest=0';
    return call('GET', 'tickets/' + encodeURIComponent(key) + q).then(function (d) {
      if (key === current) { currentTag = d.tag || ''; renderTicket(d, withSuggestion); }
    }).catch(function (e) { $('action-error').textContent = e.message; });
  }

  function openTicket(key) {
    current = key;
    currentTag = '';
    $('action-error').textContent = '';
    document.querySelectorAll('.queue-item').forEach(function (r) {
      r.classList.toggle('selected', r.dataset.key === key);
    });
    loadTicket(key, true);
  }

  function act(kind, needsText, value) {
    if (!current) { return; }
    var text = value !== undefined ? value : $('reply-text').value;
    if (needsText && !text.trim()) { $('action-error').textContent = 'Write something first.'; return; }
    $('action-error').textContent = '';
    var key = current;
    call('POST', 'tickets/' + encodeURIComponent(key) + '/actions',
      { kind: kind, text: needsText || value !== undefined ? text : '', action_id: actionID() })
      .then(function () {
        if (needsText) { $('reply-text').value = ''; }
        refresh();
      })
      .catch(function (e) { $('action-error').textContent = e.message; });
  }

  document.addEventListener('DOMContentLoaded', function () {
    $('login-form').addEventListener('submit', function (ev) {
      ev.preventDefault();
      $('login-error').textContent = '';
      call('POST', 'login', { username: $('login-user').value, password: $('login-pass').value })
        .then(function (s) { $('login-pass').value = ''; showApp(s); })
        .catch(function (e) { $('login-error').textContent = e.message; });
    });
    $('logout').addEventListener('click', function () {
      call('POST', 'logout').then(showLogin, showLogin);
    });
    // The text box's default action (Enter in the form, the submit
    // button) is an internal note; only "Send to customer" replies.
    $('compose').addEventListener('submit', function (ev) { ev.preventDefault(); act('note', true); });
    $('send-reply').addEventListener('click', function () { act('reply', true); });
    $('claim').addEventListener('click', function () { act('claim', false); });
    $('resolve').addEventListener('click', function () { act('resolve', false); });
    $('hand-back').addEventListener('click', function () { act('hand_back', false); });
    $('escalate').addEventListener('click', function () { act('escalate', false); });
    $('save-draft').addEventListener('click', function () {
      if (!current) { return; }
      $('action-error').textContent = '';
      call('POST', 'tickets/' + encodeURIComponent(current) + '/draft', {})
        .then(function (d) { $('action-error').textContent = 'Draft saved: ' + d.draft; })
        .catch(function (e) { $('action-error').textContent = e.message; });
    });
    $('priority').addEventListener('change', function () {
      var p = $('priority').value;
      if (p) { act('priority', false, p); }
      $('priority').value = '';
    });
    $('use-suggestion').addEventListener('click', function () {
      $('reply-text').value = $('use-suggestion').dataset.text || '';
      $('reply-text').focus();
    });
    $('team-filter').addEventListener('change', refresh);
    call('GET', 'session').then(showApp, showLogin);
  });
})();
