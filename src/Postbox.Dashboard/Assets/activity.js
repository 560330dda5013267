// Postbox dashboard, activity: the servers page (#/servers) and the overview's rates and charts. Plain JavaScript and
// hand-written SVG (no library, no CDN). Loaded before app.js, which routes #/servers to window.postboxPages.servers;
// the charts live in <section id="activity"> below the overview's counts and refresh themselves while the overview shows.
(() => {
  'use strict';
  const { meta, api: get, esc, fmtTime } = window.postboxCommon;
  const refreshMs = parseInt(meta('postbox-refresh'), 10) || 5000;
  const ago = (t, now) => {
    const s = Math.max(0, Math.round((new Date(now).getTime() - new Date(t).getTime()) / 1000));
    return s < 120 ? `${s} s ago` : s < 7200 ? `${Math.round(s / 60)} min ago` : `${Math.round(s / 3600)} h ago`;
  };
  const num = (v, digits = 0) => Number(v).toLocaleString('en', { minimumFractionDigits: digits, maximumFractionDigits: digits });


  // ---------- servers ----------
  async function servers(main) {
    const data = await get('/servers');
    // Paused topics and consumers (the store's pauses, seen by every relay and worker) shown where they take effect:
    // beside each worker's handler, and on relay rows as the topics they do not publish. Without a pause store: none.
    let paused = [];
    try { paused = await get('/pauses'); } catch { /* no pauses to show */ }
    const pausedConsumer = name => paused.some(p => p.side === 'inbox' && p.name === name);
    const pausedTopics = paused.filter(p => p.side === 'outbox').map(p => p.name);
    const badge = '<span class="paused-badge" data-testid="paused">paused</span>';
    const handlers = s => s.role === 'relay'
      ? (pausedTopics.length ? `<div data-testid="paused-topics">publishing paused: ${pausedTopics.map(t => `<span class="mono">${esc(t)}</span>`).join(', ')} ${badge}</div>` : '<span class="muted">—</span>')
      : s.handlers.map(h => `<div data-consumer="${esc(h.consumer)}"><span class="mono">${esc(h.topic)}</span> → ${esc(h.consumer)} <span class="muted">×${h.concurrency}</span>${pausedConsumer(h.consumer) ? ' ' + badge : ''}</div>`).join('') || '<span class="muted">—</span>';
    const rows = data.servers.map(s => `
      <tr data-owner="${esc(s.ownerId)}" data-role="${s.role}" class="${s.stale ? 'stale' : 'live'}">
        <td>${s.role === 'relay' ? 'Relay' : 'Worker'}</td>
        <td class="mono">${esc(s.ownerId)}</td>
        <td>${esc(s.host)}</td>
        <td class="num" data-testid="pid">${s.processId}</td>
        <td>${fmtTime(s.startedAt)}</td>
        <td data-testid="heartbeat">${ago(s.heartbeatAt, data.at)} <span class="muted">(every ${s.heartbeatIntervalMs / 1000} s)</span></td>
        <td data-testid="handlers">${handlers(s)}</td>
        <td data-testid="status"><span class="state ${s.stale ? 'dead' : 'done'}">${s.stale ? 'stale' : 'running'}</span></td>
      </tr>`).join('');
    main.innerHTML = `<h1>Servers</h1>
      <p class="updated">Relays and workers from the heartbeat each writes. A row not refreshed for ${data.staleAfterMissedBeats} intervals is stale (the process was killed, hangs or cannot reach the database); a process that stops gracefully deletes its row. Updated <span data-testid="updated">${fmtTime(data.at)}</span>, every ${refreshMs / 1000} s.</p>
      <table data-testid="servers">
        <thead><tr><th>Role</th><th>Owner id (lease owner)</th><th>Host</th><th class="num">PID</th><th>Started</th><th>Last heartbeat</th><th>Handlers (topic → consumer ×concurrency), pauses</th><th>Status</th></tr></thead>
        <tbody>${rows || '<tr><td colspan="8" class="muted">No relay or worker has written a heartbeat.</td></tr>'}</tbody>
      </table>`;
  }

  window.postboxPages = { servers };

  // ---------- charts ----------
  const W = 560, H = 150, L = 46, R = 8, T = 10, B = 22;
  function chart(id, title, minutes, series, unit) {
    const all = series.flatMap(s => s.values.filter(v => v != null));
    const top = Math.max(1, ...all);
    const x = i => L + (i * (W - L - R)) / Math.max(1, minutes.length - 1);
    const y = v => T + (H - T - B) * (1 - v / top);
    const lines = series.map((s, k) => {
      // A gap (no value) breaks the line: a minute without handled messages has no latency.
      const segments = [];
      let current = [];
      s.values.forEach((v, i) => {
        if (v == null) { if (current.length) segments.push(current); current = []; } else current.push(`${x(i).toFixed(1)},${y(v).toFixed(1)}`);
      });
      if (current.length) segments.push(current);
      return segments.map(p => p.length === 1
        ? `<circle class="dot s${k % 8}" cx="${p[0].split(',')[0]}" cy="${p[0].split(',')[1]}" r="2.5"><title>${esc(s.name)}</title></circle>`
        : `<polyline class="line s${k % 8}" points="${p.join(' ')}"><title>${esc(s.name)}</title></polyline>`).join('');
    }).join('');
    const grid = [0, 0.5, 1].map(f => `<line class="grid" x1="${L}" x2="${W - R}" y1="${y(top * f).toFixed(1)}" y2="${y(top * f).toFixed(1)}"></line>
      <text class="axis" x="${L - 4}" y="${(y(top * f) + 4).toFixed(1)}" text-anchor="end">${num(top * f, top * f < 10 && f > 0 && top < 10 ? 1 : 0)}</text>`).join('');
    const labels = [[0, `-${minutes.length - 1} min`], [Math.floor((minutes.length - 1) / 2), `-${Math.ceil((minutes.length - 1) / 2)} min`], [minutes.length - 1, 'now']]
      .map(([i, text], n) => `<text class="axis" x="${x(i).toFixed(1)}" y="${H - 6}" text-anchor="${n === 0 ? 'start' : n === 2 ? 'end' : 'middle'}">${text}</text>`).join('');
    return `<figure class="chart">
      <figcaption>${esc(title)} <span class="muted">(${esc(unit)})</span></figcaption>
      <svg data-testid="${id}" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${esc(title)}">${grid}${labels}${lines}</svg>
    </figure>`;
  }

  function legend(series) {
    return `<div class="legend">${series.map((s, k) => `<span><i class="swatch s${k % 8}"></i>${esc(s.name)}</span>`).join('')}</div>`;
  }

  function side(name, list, minutes) {
    const what = name === 'outbox' ? 'published' : 'handled';
    const rows = list.map(s => `<tr data-name="${esc(s.name)}">
      <td>${esc(s.name)}</td>
      <td class="num" data-testid="rate1">${num(s.last1.perSecond, 2)}</td>
      <td class="num" data-testid="rate5">${num(s.last5.perSecond, 2)}</td>
      <td class="num" data-testid="handled5">${num(s.last5.handled)}</td>
      <td class="num" data-testid="failed5">${num(s.last5.failed)}</td>
      <td class="num" data-testid="dead5">${num(s.last5.dead)}</td>
      <td class="num" data-testid="errors5">${num(s.last5.errorRate * 100, 1)} %</td>
    </tr>`).join('');
    const pick = key => list.map(s => ({ name: s.name, values: s[key] }));
    return `<h2>${name === 'outbox' ? 'Outbox — rates per topic' : 'Inbox — rates per consumer'}</h2>
      <table data-testid="${name}-rates">
        <thead><tr><th>${name === 'outbox' ? 'Topic' : 'Consumer'}</th><th class="num">${what}/s (1 min)</th><th class="num">${what}/s (5 min)</th>
          <th class="num">${what} (5 min)</th><th class="num">failed (5 min)</th><th class="num">dead (5 min)</th><th class="num">error rate (5 min)</th></tr></thead>
        <tbody>${rows || `<tr><td colspan="7" class="muted">No activity in the last hour.</td></tr>`}</tbody>
      </table>
      ${list.length ? `${legend(list)}<div class="charts">
        ${chart(`${name}-throughput`, `Throughput: messages ${what} per minute`, minutes, pick('handled'), 'messages/min')}
        ${chart(`${name}-lag`, name === 'outbox' ? 'Lag: mean enqueue → broker confirm per minute' : 'Handling time: mean per minute', minutes, pick('latencyAvgMs'), 'ms')}
        ${chart(`${name}-failures`, 'Failures: failed attempts per minute', minutes, pick('failed'), 'attempts/min')}
      </div>` : ''}`;
  }

  let chartTimer = null;
  async function activity(section) {
    try {
      const data = await get('/stats');
      section.innerHTML = `<p class="updated">Rates and charts from the <code>stats</code> table, which every relay and worker fills with its heartbeat (per minute, last hour; the current minute is partial and up to one heartbeat interval late). Updated <span data-testid="activity-updated">${fmtTime(data.at)}</span>.</p>
        ${side('outbox', data.outbox, data.minutes)}${side('inbox', data.inbox, data.minutes)}`;
    } catch (e) {
      section.innerHTML = `<p class="muted">No rates: ${esc(e.message)}</p>`;
    }
  }

  function onRoute() {
    const section = document.getElementById('activity');
    if (!section) return;
    clearInterval(chartTimer);
    chartTimer = null;
    const hash = location.hash.replace(/^#/, '') || '/';
    const overview = hash.split('?')[0].split('/').filter(Boolean).length === 0;
    section.hidden = !overview;
    if (!overview) { section.innerHTML = ''; return; }
    activity(section);
    chartTimer = setInterval(() => activity(section), refreshMs);
  }

  window.addEventListener('hashchange', onRoute);
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', onRoute); else onRoute();
})();
