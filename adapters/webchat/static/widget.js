/*
 * tier0 web chat widget. Plain JavaScript, no build step, no external
 * resources. On the chat page it fills #tier0-chat-root; on any other site
 * one tag adds a floating chat button:
 *
 *   <script src="https://helpdesk.example/widget.js" defer></script>
 *
 * It talks to the origin the script came from. All text is rendered with
 * textContent, never as HTML.
 */
(function () {
  'use strict';
  if (window.tier0WebChat) { return; }

  var script = document.currentScript || (function () {
    var all = document.querySelectorAll('script[src]');
    for (var i = all.length - 1; i >= 0; i--) {
      if (/\/widget\.js([?#].*)?$/.test(all[i].src)) { return all[i]; }
    }
    return null;
  })();
  if (!script || !window.fetch || !window.EventSource) { return; }

  var base = new URL('.', script.src);
  var api = new URL('api/webchat/', base).href;
  var storeKey = 'tier0-webchat:' + api;
  var maxText = 8000;
  var root = document.getElementById('tier0-chat-root');
  var pageMode = !!root;

  // The widget's own sentences in the visitor's language: the script tag's
  // data-lang, else the browser's; English for languages it has none in.
  var texts = {
    en: {
      close: 'Close chat', conversation: 'Conversation', typing: 'The assistant is typing', yourMessage: 'Your message',
      placeholder: 'Type your question\u2026', send: 'Send', you: 'You: ', agent: 'Agent: ', assistant: 'Assistant: ',
      source: 'Source: ', link: 'link', options: 'Reply options', error: 'Something went wrong. Please try again.',
      ended: 'Your previous chat has ended. This is a new conversation.', reconnecting: 'Connection lost. Reconnecting\u2026',
      tooLong: 'Your message is too long.', notSent: 'Your message could not be sent.', failed: 'That did not work. Please try again.',
      unavailable: 'The chat is not available right now. ', help: 'Help', chat: 'Chat with us'
    },
    de: {
      close: 'Chat schließen', conversation: 'Unterhaltung', typing: 'Der Assistent schreibt', yourMessage: 'Ihre Nachricht',
      placeholder: 'Ihre Frage\u2026', send: 'Senden', you: 'Sie: ', agent: 'Mitarbeiter: ', assistant: 'Assistent: ',
      source: 'Quelle: ', link: 'Link', options: 'Antwortmöglichkeiten', error: 'Das hat leider nicht geklappt. Bitte versuchen Sie es noch einmal.',
      ended: 'Ihr letzter Chat ist beendet. Dies ist eine neue Unterhaltung.', reconnecting: 'Verbindung unterbrochen. Neuer Versuch\u2026',
      tooLong: 'Ihre Nachricht ist zu lang.', notSent: 'Ihre Nachricht konnte nicht gesendet werden.', failed: 'Das hat leider nicht geklappt. Bitte versuchen Sie es noch einmal.',
      unavailable: 'Der Chat ist gerade nicht erreichbar. ', help: 'Hilfe', chat: 'Chat starten'
    }
  };
  var lang = ((script.getAttribute('data-lang') || navigator.language || 'en').toLowerCase().split(/[-_]/)[0]);
  var T = texts[lang] || texts.en;

  var sess = null;        // {session_id, token, expires_at}
  var sessPromise = null; // a session being created
  var es = null;          // the EventSource
  var reconnectTimer = null;
  var backoff = 1000;
  var started = false;
  var shown = {};         // message ids on screen
  var typingTimer = null;
  var ui = {};

  // ---- DOM helpers ----

  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    if (attrs) {
      for (var k in attrs) {
        if (Object.prototype.hasOwnProperty.call(attrs, k)) { e.setAttribute(k, attrs[k]); }
      }
    }
    if (text !== undefined && text !== null) { e.textContent = String(text); }
    return e;
  }

  function safeHref(u) {
    if (typeof u !== 'string' || u === '') { return null; }
    try {
      var x = new URL(u, base);
      return (x.protocol === 'https:' || x.protocol === 'http:') ? x.href : null;
    } catch (e) {
      return null;
    }
  }

  function classPart(s) {
    return String(s || '').replace(/[^a-z0-9_-]/gi, '').slice(0, 32);
  }

  function build(title) {
    var chat = el('section', {
      id: 'tier0-chat',
      'class': 'tier0-chat ' + (pageMode ? 'tier0-chat-page' : 'tier0-chat-float'),
      'aria-labelledby': 'tier0-title',
      'data-state': 'idle'
    });
    var header = el('header', {'class': 'tier0-header'});
    header.appendChild(el(pageMode ? 'h1' : 'h2', {id: 'tier0-title', 'class': 'tier0-title'}, title));
    if (!pageMode) {
      ui.close = el('button', {type: 'button', 'class': 'tier0-close', 'aria-label': T.close}, '\u00d7');
      ui.close.addEventListener('click', function () { setOpen(false); });
      header.appendChild(ui.close);
    }
    chat.appendChild(header);

    ui.list = el('div', {
      id: 'tier0-messages', 'class': 'tier0-messages', role: 'log',
      'aria-live': 'polite', 'aria-relevant': 'additions', 'aria-label': T.conversation, tabindex: '0'
    });
    chat.appendChild(ui.list);

    ui.typing = el('div', {id: 'tier0-typing', 'class': 'tier0-typing', role: 'status'});
    ui.typing.appendChild(el('span', {'class': 'tier0-dot', 'aria-hidden': 'true'}));
    ui.typing.appendChild(el('span', {'class': 'tier0-dot', 'aria-hidden': 'true'}));
    ui.typing.appendChild(el('span', {'class': 'tier0-dot', 'aria-hidden': 'true'}));
    ui.typing.appendChild(el('span', {'class': 'tier0-sr'}, T.typing));
    ui.typing.hidden = true;
    chat.appendChild(ui.typing);

    ui.status = el('div', {id: 'tier0-status', 'class': 'tier0-status', role: 'status', 'aria-live': 'polite'});
    chat.appendChild(ui.status);

    ui.form = el('form', {id: 'tier0-form', 'class': 'tier0-form', novalidate: ''});
    ui.form.appendChild(el('label', {'for': 'tier0-input', 'class': 'tier0-sr'}, T.yourMessage));
    ui.input = el('textarea', {
      id: 'tier0-input', 'class': 'tier0-input', rows: '2', maxlength: String(maxText),
      placeholder: T.placeholder, autocomplete: 'off'
    });
    ui.send = el('button', {type: 'submit', id: 'tier0-send', 'class': 'tier0-send'}, T.send);
    ui.form.appendChild(ui.input);
    ui.form.appendChild(ui.send);
    chat.appendChild(ui.form);

    ui.form.addEventListener('submit', function (ev) { ev.preventDefault(); submitText(); });
    ui.input.addEventListener('keydown', function (ev) {
      if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) { ev.preventDefault(); submitText(); }
    });
    ui.chat = chat;
    return chat;
  }

  function setState(s) { ui.chat.setAttribute('data-state', s); }

  function setStatus(text) { ui.status.textContent = text || ''; }

  function scrollDown() { ui.list.scrollTop = ui.list.scrollHeight; }

  function showTyping() {
    ui.typing.hidden = false;
    clearTimeout(typingTimer);
    typingTimer = setTimeout(hideTyping, 60000);
    scrollDown();
  }

  function hideTyping() {
    clearTimeout(typingTimer);
    ui.typing.hidden = true;
  }

  // render adds one message: {id, role, kind, text, citations, buttons}.
  function render(m) {
    if (m.id) {
      if (shown[m.id]) { return null; }
      shown[m.id] = true;
    }
    var user = m.role === 'customer';
    var cls = 'tier0-msg ' + (user ? 'tier0-msg-user' : 'tier0-msg-bot');
    if (m.role === 'agent') { cls += ' tier0-msg-agent'; }
    if (m.kind) { cls += ' tier0-kind-' + classPart(m.kind); }
    var item = el('div', {'class': cls});
    if (m.id) { item.setAttribute('data-id', m.id); }
    item.appendChild(el('span', {'class': 'tier0-sr'}, user ? T.you : (m.role === 'agent' ? T.agent : T.assistant)));
    item.appendChild(el('div', {'class': 'tier0-text'}, m.text || ''));

    if (Array.isArray(m.citations) && m.citations.length) {
      var cites = el('ul', {'class': 'tier0-cites'});
      m.citations.forEach(function (c) {
        if (!c) { return; }
        var label = T.source + (c.title || T.link);
        var href = safeHref(c.url);
        var li = el('li');
        li.appendChild(href
          ? el('a', {'class': 'tier0-cite', href: href, target: '_blank', rel: 'noopener noreferrer'}, label)
          : el('span', {'class': 'tier0-cite-text'}, label));
        cites.appendChild(li);
      });
      item.appendChild(cites);
    }

    if (Array.isArray(m.buttons) && m.buttons.length) {
      var row = el('div', {'class': 'tier0-actions', role: 'group', 'aria-label': T.options});
      m.buttons.forEach(function (b) {
        if (!b || !b.action || !b.action.id) { return; }
        var btn = el('button', {type: 'button', 'class': 'tier0-action'}, b.label || b.action.id);
        btn.addEventListener('click', function () { choose(row, btn, b.action); });
        row.appendChild(btn);
      });
      item.appendChild(row);
    }
    ui.list.appendChild(item);
    if (!user) { hideTyping(); }
    scrollDown();
    return item;
  }

  // ---- storage ----

  function loadStored() {
    try {
      var s = JSON.parse(window.localStorage.getItem(storeKey) || 'null');
      if (s && s.session_id && s.token && Date.parse(s.expires_at) - Date.now() > 60000) { return s; }
    } catch (e) { /* storage blocked or corrupt: start fresh */ }
    return null;
  }

  function store(s) {
    try {
      if (s) { window.localStorage.setItem(storeKey, JSON.stringify(s)); } else { window.localStorage.removeItem(storeKey); }
    } catch (e) { /* storage blocked: the session lives as long as the page */ }
  }

  // ---- HTTP ----

  function call(method, path, body) {
    var headers = {};
    if (sess && path.indexOf('sessions/') === 0) { headers.Authorization = 'Bearer ' + sess.token; }
    var init = {method: method, headers: headers, credentials: 'omit', cache: 'no-store'};
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    return fetch(api + path, init).then(function (res) {
      return res.text().then(function (t) {
        var data = null;
        try { data = t ? JSON.parse(t) : null; } catch (e) { data = null; }
        return {status: res.status, ok: res.ok, data: data, retryAfter: parseInt(res.headers.get('Retry-After'), 10) || 0};
      });
    });
  }

  function errorText(res) {
    return (res && res.data && res.data.error && res.data.error.message) || T.error;
  }

  function sessionPath(sub) { return 'sessions/' + encodeURIComponent(sess.session_id) + '/' + sub; }

  function ensureSession() {
    if (sess) { return Promise.resolve(sess); }
    if (!sessPromise) {
      var body = {};
      var loc = script.getAttribute('data-lang') || navigator.language;
      if (loc && /^[A-Za-z0-9-]{1,35}$/.test(loc)) { body.locale = loc; }
      sessPromise = call('POST', 'sessions', body).then(function (res) {
        sessPromise = null;
        if (res.status !== 201 || !res.data || !res.data.token) { throw new Error(errorText(res)); }
        sess = res.data;
        store(sess);
        return sess;
      }, function (err) { sessPromise = null; throw err; });
    }
    return sessPromise;
  }

  // dropSession forgets a session the server no longer accepts.
  function dropSession() {
    sess = null;
    store(null);
    if (es) { es.close(); es = null; }
  }

  // ---- live events ----

  function connect() {
    clearTimeout(reconnectTimer);
    if (es) { es.close(); }
    if (!sess) { return; }
    setState(started ? 'reconnecting' : 'connecting');
    var src = new EventSource(api + sessionPath('events') + '?token=' + encodeURIComponent(sess.token));
    es = src;
    src.addEventListener('open', function () {
      backoff = 1000;
      setStatus('');
      loadHistory().then(function () { if (es === src) { setState('ready'); } });
    });
    src.addEventListener('message', function (ev) {
      var m;
      try { m = JSON.parse(ev.data); } catch (e) { return; }
      if (m && typeof m === 'object') { render(m); }
    });
    src.addEventListener('error', function () {
      if (es !== src) { return; }
      setState('reconnecting');
      if (src.readyState === EventSource.CLOSED) {
        // The server refused the stream (expired session, or it is down):
        // check the session and try again with backoff.
        src.close();
        es = null;
        reconnectTimer = setTimeout(recover, backoff);
        backoff = Math.min(backoff * 2, 30000);
      }
    });
  }

  function recover() {
    if (!sess) { start(); return; }
    call('GET', sessionPath('history')).then(function (res) {
      if (res.status === 401 || res.status === 403) {
        dropSession();
        setStatus(T.ended);
        start();
        return;
      }
      connect();
    }, function () {
      setStatus(T.reconnecting);
      reconnectTimer = setTimeout(recover, backoff);
      backoff = Math.min(backoff * 2, 30000);
    });
  }

  function loadHistory() {
    if (!sess) { return Promise.resolve(); }
    return call('GET', sessionPath('history')).then(function (res) {
      if (res.ok && res.data && Array.isArray(res.data.messages)) {
        res.data.messages.forEach(function (m) { if (m && typeof m === 'object') { render(m); } });
      }
    }, function () { /* the stream's reconnect retries */ });
  }

  // ---- sending ----

  function newID() {
    var b = new Uint8Array(16);
    window.crypto.getRandomValues(b);
    return 'c_' + Array.prototype.map.call(b, function (x) { return (x < 16 ? '0' : '') + x.toString(16); }).join('');
  }

  function delay(ms) { return new Promise(function (r) { setTimeout(r, ms); }); }

  // post sends one message; retries keep its client_msg_id, so the server
  // answers it once however often it arrives.
  function post(body, attempt) {
    attempt = attempt || 0;
    return ensureSession().then(function () {
      begin();
      return call('POST', sessionPath('messages'), body);
    }).then(function (res) {
      if (res.status === 202) {
        // Nothing will come (a repeat, or a person owns the chat now).
        if (!(res.data && res.data.expect_reply)) { hideTyping(); }
        return true;
      }
      if (res.status === 401 && attempt === 0) {
        dropSession();
        return post(body, attempt + 1).then(function (ok) { if (ok) { connect(); } return ok; });
      }
      if ((res.status === 503 || res.status === 409) && attempt < 3) {
        return delay((res.retryAfter || attempt + 1) * 1000).then(function () { return post(body, attempt + 1); });
      }
      throw new Error(errorText(res));
    }, function (err) {
      // The network failed (or no session could be made): try again.
      if (attempt < 3) {
        return delay(1000 * (attempt + 1)).then(function () { return post(body, attempt + 1); });
      }
      throw err;
    });
  }

  function submitText() {
    var text = ui.input.value;
    if (!text.trim()) { return; }
    if (text.length > maxText) { setStatus(T.tooLong); return; }
    ui.input.value = '';
    var id = newID();
    var item = render({id: id, role: 'customer', text: text});
    setStatus('');
    showTyping();
    post({text: text, client_msg_id: id}).catch(function (err) {
      hideTyping();
      if (item) { item.classList.add('tier0-msg-failed'); }
      setStatus((err && err.message) || T.notSent);
    });
  }

  function choose(row, btn, action) {
    var all = row.querySelectorAll('button');
    for (var i = 0; i < all.length; i++) { all[i].disabled = true; }
    btn.classList.add('tier0-action-chosen');
    btn.setAttribute('aria-pressed', 'true');
    setStatus('');
    showTyping();
    var a = {id: String(action.id)};
    if (action.value) { a.value = String(action.value); }
    post({action: a, client_msg_id: newID()}).catch(function (err) {
      hideTyping();
      for (var i = 0; i < all.length; i++) { all[i].disabled = false; }
      btn.classList.remove('tier0-action-chosen');
      btn.removeAttribute('aria-pressed');
      setStatus((err && err.message) || T.failed);
    });
  }

  // ---- start ----

  // begin starts the chat once: session, stream, history.
  function begin() {
    if (!started) { start(); }
  }

  // start (re)starts it, with a new session when the old one was dropped.
  function start() {
    started = true;
    if (!sess) { sess = loadStored(); }
    ensureSession().then(connect, function (err) {
      setState('offline');
      setStatus(T.unavailable + ((err && err.message) || ''));
      reconnectTimer = setTimeout(start, backoff);
      backoff = Math.min(backoff * 2, 30000);
    });
  }

  function applyConfig(cfg) {
    if (cfg && cfg.title) { document.getElementById('tier0-title').textContent = cfg.title; }
    var welcome = cfg && ((cfg.welcomes && cfg.welcomes[lang]) || cfg.welcome);
    if (welcome && !ui.list.querySelector('.tier0-msg-welcome')) {
      var w = render({role: 'bot', kind: 'welcome', text: welcome});
      if (w) { w.classList.add('tier0-msg-welcome'); ui.list.insertBefore(w, ui.list.firstChild); }
    }
  }

  function fetchConfig() {
    return call('GET', 'config').then(function (res) { if (res.ok) { applyConfig(res.data); } }, function () {});
  }

  var launcher = null;

  function setOpen(open) {
    ui.chat.hidden = !open;
    launcher.setAttribute('aria-expanded', open ? 'true' : 'false');
    if (open) {
      if (!started) { fetchConfig().then(begin); }
      ui.input.focus();
    } else {
      launcher.focus();
    }
  }

  function mount() {
    if (pageMode) {
      root.textContent = '';
      root.appendChild(build(root.getAttribute('data-title') || document.title || T.help));
      fetchConfig().then(begin);
      ui.input.focus();
      return;
    }
    if (!document.querySelector('link[data-tier0-css]')) {
      var css = el('link', {rel: 'stylesheet', href: new URL('widget.css', base).href, 'data-tier0-css': ''});
      document.head.appendChild(css);
    }
    var wrap = el('div', {id: 'tier0-widget', 'class': 'tier0-widget'});
    launcher = el('button', {
      type: 'button', id: 'tier0-launcher', 'class': 'tier0-launcher',
      'aria-controls': 'tier0-chat', 'aria-expanded': 'false'
    }, T.chat);
    launcher.addEventListener('click', function () { setOpen(ui.chat.hidden); });
    var chat = build(T.help);
    chat.hidden = true;
    chat.addEventListener('keydown', function (ev) { if (ev.key === 'Escape') { setOpen(false); } });
    wrap.appendChild(chat);
    wrap.appendChild(launcher);
    document.body.appendChild(wrap);
  }

  window.tier0WebChat = {
    open: function () { if (!pageMode) { setOpen(true); } },
    close: function () { if (!pageMode) { setOpen(false); } }
  };

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', mount);
  } else {
    mount();
  }
})();
