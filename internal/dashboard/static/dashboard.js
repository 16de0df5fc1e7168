// Provost dashboard: live decisions (server-sent events) and the
// verification's progress. The pages work without it; it only adds
// updates. No inline script, no third-party code, no innerHTML.
'use strict';

(function () {
  var maxRows = 500;

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined && text !== null) { e.textContent = text; }
    return e;
  }

  function stamp(iso) {
    var d = new Date(iso);
    if (isNaN(d.getTime())) { return iso; }
    return d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
  }

  var words = { allow: 'allowed', step_up: 'step-up', deny: 'denied' };

  // row builds a decisions table row from a stream event, as the server
  // renders it.
  function row(d) {
    var tr = el('tr');
    var reasons = d.reasons || [];
    var actions = d.actions || [];
    tr.dataset.testid = 'decision-row';
    tr.dataset.index = String(d.index);
    tr.dataset.outcome = d.outcome || '';
    tr.dataset.fingerprint = d.fingerprint || '';
    tr.dataset.binding = d.binding || '';
    tr.dataset.reasons = reasons.join(' ');
    tr.dataset.actions = actions.join(' ');
    tr.className = 'new';

    var td = el('td');
    var a = el('a', null, stamp(d.time));
    a.href = '/ui/decisions/' + encodeURIComponent(d.index);
    a.dataset.testid = 'decision-link';
    td.appendChild(a);
    tr.appendChild(td);

    td = el('td');
    td.appendChild(el('span', 'outcome ' + (d.outcome || ''), words[d.outcome] || d.outcome));
    if (actions.indexOf('revoke') >= 0) {
      td.appendChild(document.createTextNode(' '));
      td.appendChild(el('span', 'outcome revoke', 'revoked'));
    }
    tr.appendChild(td);

    td = el('td');
    if (d.fingerprint) {
      a = el('a');
      a.href = '/ui/credentials/' + encodeURIComponent(d.fingerprint);
      a.title = d.fingerprint;
      a.appendChild(el('code', null, d.short || d.fingerprint));
      td.appendChild(a);
    } else {
      td.textContent = '\u2014';
    }
    tr.appendChild(td);

    tr.appendChild(el('td', null, d.binding || ''));
    tr.appendChild(el('td', null, d.workload || ''));
    tr.appendChild(el('td', null, d.source || ''));
    td = el('td');
    reasons.forEach(function (r) {
      td.appendChild(el('code', 'reason', r));
      td.appendChild(document.createTextNode(' '));
    });
    tr.appendChild(td);
    td = el('td');
    td.appendChild(el('code', null, (d.method || '') + ' ' + (d.path || '')));
    tr.appendChild(td);
    return tr;
  }

  function live(table) {
    var status = document.querySelector('[data-testid=live-status]');
    var body = table.tBodies[0];
    var empty = document.querySelector('[data-testid=no-decisions]');
    if (!window.EventSource || !body) { return; }
    var src = new EventSource(table.dataset.stream);
    function say(text, cls) {
      if (status) { status.textContent = text; status.className = 'live ' + cls; }
    }
    src.onopen = function () { say('Live: new decisions appear at the top.', 'on'); };
    src.onerror = function () { say('Live updates interrupted; reconnecting\u2026', 'off'); };
    src.addEventListener('decision', function (ev) {
      var d;
      try { d = JSON.parse(ev.data); } catch (e) { return; }
      if (body.querySelector('tr[data-index="' + String(d.index) + '"]')) { return; }
      body.insertBefore(row(d), body.firstChild);
      while (body.rows.length > maxRows) { body.deleteRow(body.rows.length - 1); }
      if (empty) { empty.hidden = true; }
    });
  }

  function verify(box) {
    var bar = box.querySelector('progress');
    var text = box.querySelector('.verify-text');
    var result = box.querySelector('[data-testid=verify-result]');
    var button = document.querySelector('[data-testid=verify-now]');
    function poll() {
      fetch('/ui/api/verify', { credentials: 'same-origin', cache: 'no-store' })
        .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); })
        .then(function (s) {
          var pct = s.total > 0 ? Math.min(100, Math.floor(s.done * 100 / s.total)) : (s.state === 'verified' ? 100 : 0);
          box.dataset.state = s.state;
          box.dataset.done = String(s.done);
          box.dataset.total = String(s.total);
          if (bar) { bar.value = pct; bar.textContent = pct + '%'; }
          if (s.state === 'running') {
            if (text) { text.textContent = 'Verifying: ' + s.done + ' of ' + s.total + ' records\u2026'; }
            window.setTimeout(poll, 500);
            return;
          }
          if (text) { text.textContent = s.done + ' of ' + s.total + ' records checked.'; }
          if (result) {
            result.className = 'verify-result ' + s.state;
            result.textContent = s.state === 'verified' ? 'Verified: ' + s.result : (s.result || '');
          }
          if (button) { button.disabled = false; }
        })
        .catch(function () { window.setTimeout(poll, 2000); });
    }
    if (box.dataset.state === 'running') { poll(); }
  }

  document.addEventListener('DOMContentLoaded', function () {
    var table = document.querySelector('[data-testid=decisions-table][data-stream]');
    if (table) { live(table); }
    var box = document.querySelector('[data-testid=verify-progress]');
    if (box) { verify(box); }
  });
}());
