// Postbox dashboard: plain JavaScript, no build step, no CDN. Hash routes:
//   #/                                 overview (auto-refresh)
//   #/list/{side}/{state}?topic=&consumer=&key=   list by state, keyset paged
//   #/msg/{side}/{id}[/{consumer}]     message detail
//   #/find/{id}                        a message id on both sides
//   #/servers                          relays and workers (activity.js)
(() => {
  'use strict';
  const { meta, api, toast, confirmAction, esc, fmtTime } = window.postboxCommon;
  const refreshMs = parseInt(meta('postbox-refresh'), 10) || 5000;
  const pageSize = parseInt(meta('postbox-page-size'), 10) || 50;
  const main = document.getElementById('main');
  const states = {
    outbox: ['ready', 'inFlight', 'scheduled', 'dead', 'done'],
    inbox: ['inFlight', 'scheduled', 'dead', 'done'],
  };
  const stateLabel = { ready: 'Ready', inFlight: 'In flight', scheduled: 'Scheduled', dead: 'Dead', done: 'Done' };
  const doneLabel = { outbox: 'Delivered', inbox: 'Processed' };
  let timer = null;
  let cursors = [];

  const label = (side, s) => s === 'done' ? doneLabel[side] : stateLabel[s];
  const age = t => {
    if (!t) return '—';
    let s = Math.max(0, Math.round((Date.now() - new Date(t).getTime()) / 1000));
    if (s < 120) return `${s} s`;
    if (s < 7200) return `${Math.round(s / 60)} min`;
    if (s < 172800) return `${Math.round(s / 3600)} h`;
    return `${Math.round(s / 86400)} d`;
  };




  async function act(side, action, messages, what) {
    if (!await confirmAction(`${what}?`)) return false;
    try {
      const result = await api(`/${side}/${action}`, action === 'replay-all' ? messages : { messages });
      toast(`${what}: ${result.count} message(s).`);
      return true;
    } catch (e) {
      toast(`${what} failed: ${e.message}`);
      return false;
    }
  }

  // ---------- overview ----------
  async function overview() {
    const data = await api('/overview');
    const side = (name, o) => {
      const cols = states[name];
      const total = s => o.totals.find(t => t.state === s) || { count: 0, atLeast: false };
      const names = [...new Set(o.groups.map(g => g.name))].sort();
      const count = (n, s) => o.groups.filter(g => g.name === n && g.state === s).reduce((a, g) => a + g.count, 0);
      const key = name === 'outbox' ? 'topic' : 'consumer';
      const cell = (n, s, v, plus) => v === 0 ? '<td class="num muted">0</td>'
        : `<td class="num"><a href="#/list/${name}/${s}${n ? `?${key}=${encodeURIComponent(n)}` : ''}">${v.toLocaleString('en')}${plus ? '+' : ''}</a></td>`;
      return `
        <h2>${name === 'outbox' ? 'Outbox — per topic' : 'Inbox — per consumer'}</h2>
        <div class="cards">
          ${cols.map(s => { const t = total(s); return `<div class="card ${s}" data-testid="${name}-total-${s}"><div class="label">${label(name, s)}</div><div class="value">${t.count.toLocaleString('en')}${t.atLeast ? '+' : ''}</div></div>`; }).join('')}
          <div class="card"><div class="label">Oldest pending</div><div class="value" data-testid="${name}-oldest">${age(o.oldestPendingAt)}</div></div>
        </div>
        <table data-testid="${name}-groups">
          <thead><tr><th>${name === 'outbox' ? 'Topic' : 'Consumer'}</th>${cols.map(s => `<th class="num">${label(name, s)}</th>`).join('')}</tr></thead>
          <tbody>
            ${names.map(n => `<tr data-name="${esc(n)}"><td>${esc(n)}</td>${cols.map(s => cell(n, s, count(n, s), false)).join('')}</tr>`).join('')
              || `<tr><td colspan="${cols.length + 1}" class="muted">Nothing yet.</td></tr>`}
            <tr class="total"><td>Total</td>${cols.map(s => { const t = total(s); return cell('', s, t.count, t.atLeast); }).join('')}</tr>
          </tbody>
        </table>`;
    };
    main.innerHTML = `<h1>Overview</h1>
      <p class="updated">Counts stop at ${data.countLimit.toLocaleString('en')} per state (then shown with +). Updated <span data-testid="updated">${fmtTime(new Date())}</span>, every ${refreshMs / 1000} s.</p>
      ${side('outbox', data.outbox)}${side('inbox', data.inbox)}`;
  }

  // ---------- lists ----------
  async function list(side, state, params) {
    const filter = { topic: params.get('topic') || '', consumer: params.get('consumer') || '', key: params.get('key') || '' };
    const after = params.get('after') || '';
    const query = new URLSearchParams({ state, limit: pageSize, ...filter, after });
    const started = performance.now();
    const page = await api(`/${side}/messages?${query}`);
    const elapsed = Math.round(performance.now() - started);
    const keep = p => { const q = new URLSearchParams(filter); for (const [k, v] of Object.entries(p)) q.set(k, v); for (const [k, v] of [...q]) if (!v) q.delete(k); return q.toString(); };
    const tabs = states[side].map(s => `<a class="${s === state ? 'active' : ''}" href="#/list/${side}/${s}?${keep({})}">${label(side, s)}</a>`).join(' ');
    const timeHeader = state === 'done' ? doneLabel[side] : state === 'dead' ? 'Dead since' : state === 'inFlight' ? 'Lease until' : state === 'scheduled' ? 'Next attempt' : '';
    const rows = page.items.map(m => {
      const href = `#/msg/${side}/${m.id}${m.consumer ? '/' + encodeURIComponent(m.consumer) : ''}`;
      return `<tr data-id="${m.id}" data-consumer="${esc(m.consumer || '')}">
        <td><input type="checkbox" class="pick" aria-label="select ${m.id}"></td>
        <td class="mono"><a href="${href}">${m.id}</a></td>
        <td>${esc(m.topic)}</td>${side === 'inbox' ? `<td>${esc(m.consumer)}</td>` : ''}
        <td>${esc(m.key || '')}</td><td>${esc(m.type || '')}</td>
        <td class="num">${m.attempts}</td><td>${fmtTime(m.createdAt)}</td>
        ${timeHeader ? `<td>${fmtTime(m.finishedAt || m.nextAttemptAt)}</td>` : ''}
        <td class="err">${esc((m.lastError || '').slice(0, 300))}</td></tr>`;
    }).join('');
    main.innerHTML = `<h1>${side === 'outbox' ? 'Outbox' : 'Inbox'}: ${label(side, state).toLowerCase()}</h1>
      <div class="toolbar tabs">${tabs}</div>
      <form class="toolbar" id="filter">
        <input name="topic" placeholder="topic" value="${esc(filter.topic)}">
        ${side === 'inbox' ? `<input name="consumer" placeholder="consumer" value="${esc(filter.consumer)}">` : ''}
        <input name="key" placeholder="key" value="${esc(filter.key)}">
        <button type="submit">Filter</button>
      </form>
      <div class="toolbar">
        ${state === 'dead' ? '<button id="replay-selected" class="primary">Replay selected</button><button id="replay-all">Replay all dead (filter)</button>' : ''}
        ${state === 'scheduled' ? '<button id="retry-selected" class="primary">Retry now</button>' : ''}
        ${['ready', 'scheduled', 'dead'].includes(state) && !(side === 'inbox' && state === 'ready') ? '<button id="delete-selected" class="danger">Delete selected</button>' : ''}
        <span class="muted" data-testid="page-info">${page.items.length} shown · loaded in ${elapsed} ms</span>
      </div>
      <table data-testid="list">
        <thead><tr><th><input type="checkbox" id="pick-all" aria-label="select all"></th><th>Id</th><th>Topic</th>${side === 'inbox' ? '<th>Consumer</th>' : ''}<th>Key</th><th>Type</th><th class="num">Attempts</th><th>${side === 'outbox' ? 'Enqueued' : 'Received'}</th>${timeHeader ? `<th>${timeHeader}</th>` : ''}<th>Last error</th></tr></thead>
        <tbody>${rows || `<tr><td colspan="10" class="muted" data-testid="list-empty">No ${label(side, state).toLowerCase()} messages.${side === 'outbox' && state === 'done' && !after ? ' Delivered messages are kept only when <code>Postbox:Relay:DeliveredRetention</code> is above 0; by default the relay deletes each message once the broker confirms it.' : ''}</td></tr>`}</tbody>
      </table>
      <div class="toolbar">
        ${after ? `<a href="#/list/${side}/${state}?${keep({ after: cursors.length > 1 ? cursors[cursors.length - 2] : '' })}" id="prev">← Previous</a>` : ''}
        ${page.next ? `<a href="#/list/${side}/${state}?${keep({ after: page.next })}" id="next">Next →</a>` : ''}
      </div>`;
    if (!after) cursors = [''];
    else if (cursors[cursors.length - 1] !== after) { const i = cursors.indexOf(after); cursors = i >= 0 ? cursors.slice(0, i + 1) : [...cursors, after]; }

    document.getElementById('filter').addEventListener('submit', e => {
      e.preventDefault();
      const f = new FormData(e.target);
      location.hash = `#/list/${side}/${state}?${new URLSearchParams([...f].filter(([, v]) => v))}`;
    });
    document.getElementById('pick-all').addEventListener('change', e => main.querySelectorAll('.pick').forEach(p => { p.checked = e.target.checked; }));
    const picked = () => [...main.querySelectorAll('tr[data-id]')].filter(r => r.querySelector('.pick').checked)
      .map(r => ({ id: r.dataset.id, consumer: r.dataset.consumer || null }));
    const bind = (id, action, what) => {
      const button = document.getElementById(id);
      if (!button) return;
      button.addEventListener('click', async () => {
        const messages = picked();
        if (messages.length === 0) { toast('Select messages first.'); return; }
        if (await act(side, action, messages, `${what} ${messages.length} message(s)`)) route();
      });
    };
    bind('replay-selected', 'replay', 'Replay');
    bind('retry-selected', 'retry', 'Retry now');
    bind('delete-selected', 'delete', 'Delete');
    const all = document.getElementById('replay-all');
    if (all) all.addEventListener('click', async () => {
      const desc = Object.entries(filter).filter(([, v]) => v).map(([k, v]) => `${k} ${v}`).join(', ');
      if (await act(side, 'replay-all', filter, `Replay every dead ${side} message${desc ? ' with ' + desc : ''}`)) route();
    });
  }

  // ---------- detail ----------
  async function detail(side, id, consumer) {
    const d = await api(`/${side}/messages/${id}${consumer ? '?consumer=' + encodeURIComponent(consumer) : ''}`);
    const m = d.summary;
    const headers = Object.entries(d.headers || {});
    const ref = [{ id: m.id, consumer: m.consumer }];
    main.innerHTML = `<h1>${side === 'outbox' ? 'Outbox' : 'Inbox'} message</h1>
      <div class="toolbar">
        ${m.state === 'dead' ? '<button id="replay" class="primary">Replay</button>' : ''}
        ${m.state === 'scheduled' ? '<button id="retry" class="primary">Retry now</button>' : ''}
        ${(side === 'outbox' ? ['ready', 'scheduled', 'dead'] : ['scheduled', 'dead']).includes(m.state) ? '<button id="delete" class="danger">Delete</button>' : ''}
      </div>
      <dl data-testid="detail">
        <dt>Id</dt><dd class="mono">${m.id}</dd>
        <dt>State</dt><dd><span class="state ${m.state}" data-testid="state">${label(side, m.state)}</span></dd>
        <dt>Topic</dt><dd>${esc(m.topic)}</dd>
        ${side === 'inbox' ? `<dt>Consumer</dt><dd>${esc(m.consumer)}</dd>` : ''}
        <dt>Key</dt><dd>${esc(m.key || '—')}</dd>
        <dt>Type</dt><dd>${esc(m.type || '—')}</dd>
        <dt>Attempts</dt><dd data-testid="attempts">${m.attempts}${d.maxAttempts ? ` of ${d.maxAttempts}` : ''}${d.replays ? ` (replayed ${d.replays}×)` : ''}</dd>
        <dt>${side === 'outbox' ? 'Enqueued' : 'Received'}</dt><dd>${fmtTime(m.createdAt)}</dd>
        <dt>Next attempt</dt><dd>${fmtTime(m.nextAttemptAt) || '—'}</dd>
        <dt>${m.state === 'dead' ? 'Dead since' : 'Finished'}</dt><dd>${fmtTime(m.finishedAt) || '—'}</dd>
        <dt>Lease owner</dt><dd class="mono">${esc(d.leaseOwner || '—')}</dd>
      </dl>
      <h2>Error history</h2>
      <table data-testid="errors"><thead><tr><th class="num">Attempt</th><th>At</th><th>Error</th></tr></thead><tbody>
        ${d.errors.map(e => `<tr><td class="num">${e.attempt}</td><td>${fmtTime(e.at)}</td><td class="err">${esc(e.error)}</td></tr>`).join('')
          || '<tr><td colspan="3" class="muted">No errors.</td></tr>'}
      </tbody></table>
      <h2>Headers</h2>
      <table><tbody>${headers.map(([k, v]) => `<tr><td class="mono">${esc(k)}</td><td class="mono">${esc(v)}</td></tr>`).join('') || '<tr><td class="muted">None.</td></tr>'}</tbody></table>
      <h2>Payload <span class="muted">(${d.payload.kind}${d.payload.length != null ? `, ${d.payload.length} bytes` : ''}${d.payload.truncated ? ', truncated' : ''})</span></h2>
      ${d.payload.kind === 'none' ? '<p class="muted">Not kept (an inbox row drops its payload once handled).</p>' : `<pre data-testid="payload">${esc(d.payload.text)}</pre>`}`;
    const bind = (id, action, what) => {
      const button = document.getElementById(id);
      if (button) button.addEventListener('click', async () => {
        if (await act(side, action, ref, `${what} message ${m.id}`)) {
          if (action === 'delete') location.hash = `#/list/${side}/${m.state}`; else route();
        }
      });
    };
    bind('replay', 'replay', 'Replay');
    bind('retry', 'retry', 'Retry now');
    bind('delete', 'delete', 'Delete');
  }

  async function find(id) {
    const [outbox, inbox] = await Promise.all([api(`/outbox/find/${id}`), api(`/inbox/find/${id}`)]);
    const row = (side, m) => `<tr><td>${side}</td><td class="mono"><a href="#/msg/${side}/${m.id}${m.consumer ? '/' + encodeURIComponent(m.consumer) : ''}">${m.id}</a></td><td>${esc(m.consumer || '')}</td><td>${esc(m.topic)}</td><td><span class="state ${m.state}">${label(side, m.state)}</span></td></tr>`;
    const rows = outbox.map(m => row('outbox', m)).concat(inbox.map(m => row('inbox', m))).join('');
    main.innerHTML = `<h1>Message ${esc(id)}</h1><table><thead><tr><th>Side</th><th>Id</th><th>Consumer</th><th>Topic</th><th>State</th></tr></thead>
      <tbody>${rows || '<tr><td colspan="5" class="muted">No such message.</td></tr>'}</tbody></table>`;
  }

  async function route() {
    clearInterval(timer);
    timer = null;
    const hash = location.hash.replace(/^#/, '') || '/';
    const [path, qs] = hash.split('?');
    const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
    try {
      if (parts.length === 0) {
        await overview();
        timer = setInterval(() => overview().catch(e => toast(`Refresh failed: ${e.message}`)), refreshMs);
      } else if (parts[0] === 'list' && states[parts[1]]) {
        await list(parts[1], states[parts[1]].includes(parts[2]) ? parts[2] : 'dead', new URLSearchParams(qs || ''));
      } else if (parts[0] === 'msg' && states[parts[1]]) {
        await detail(parts[1], parts[2], parts[3]);
      } else if (parts[0] === 'find') {
        await find(parts[1]);
      } else if (window.postboxPages && window.postboxPages[parts[0]]) {
        // Pages of activity.js (#/servers), refreshed like the overview.
        const page = window.postboxPages[parts[0]];
        await page(main, parts);
        timer = setInterval(() => page(main, parts).catch(e => toast(`Refresh failed: ${e.message}`)), refreshMs);
      } else {
        main.innerHTML = '<p>Unknown page.</p>';
      }
    } catch (e) {
      main.innerHTML = `<p class="err">Could not load: ${esc(e.message)}</p>`;
    }
  }

  document.getElementById('search').addEventListener('submit', e => {
    e.preventDefault();
    const id = document.getElementById('search-id').value.trim();
    if (/^[0-9a-f-]{36}$/i.test(id)) location.hash = `#/find/${id}`; else toast('Give a message id (a GUID).');
  });
  window.addEventListener('hashchange', route);
  route();
})();
