// Postbox dashboard: pause and resume of an outbox topic's publishing and an inbox consumer's consuming (durable, seen
// by every relay and worker within a second or two). Kept apart from app.js: it decorates the overview that app.js
// renders (a "paused" badge and a Pause/Resume button on each topic and consumer row, and a "Paused" section with a
// form for names that have no rows yet), and re-decorates each time the overview refreshes.
(() => {
  'use strict';
  const { api: call, toast, confirmAction, esc, fmtTime } = window.postboxCommon;
  const main = document.getElementById('main');
  const what = side => side === 'outbox' ? 'publishing of topic' : 'consuming of consumer';




  async function toggle(side, name, pause) {
    const text = `${pause ? 'Pause' : 'Resume'} ${what(side)} ${name}`;
    if (!await confirmAction(`${text}?${pause ? ' Every ' + (side === 'outbox' ? 'relay' : 'worker') + ' stops taking it within a second or two; messages keep waiting, nothing is lost.' : ''}`)) return;
    try {
      const result = await call(`/${side}/${pause ? 'pause' : 'resume'}`, { name });
      toast(`${text}: ${result.changed ? 'done' : (pause ? 'was paused already' : 'was not paused')}.`);
    } catch (e) {
      toast(`${text} failed: ${e.message}`);
    }
    decorate(true);
  }

  function button(side, name, paused) {
    const b = document.createElement('button');
    b.type = 'button';
    b.className = paused ? 'pause-toggle primary' : 'pause-toggle';
    b.textContent = paused ? 'Resume' : 'Pause';
    b.dataset.side = side;
    b.dataset.pauseName = name;
    b.addEventListener('click', () => toggle(side, name, !paused));
    return b;
  }

  let generation = 0;
  async function decorate(force) {
    const tables = ['outbox', 'inbox'].map(side => [side, main.querySelector(`table[data-testid="${side}-groups"]`)]).filter(([, t]) => t);
    if (tables.length === 0 || (!force && tables.every(([, t]) => t.dataset.pauses))) return;
    tables.forEach(([, t]) => { t.dataset.pauses = 'pending'; });
    const mine = ++generation;
    let paused;
    try {
      paused = await call('/pauses');
    } catch (e) {
      toast(`Could not read the pauses: ${e.message}`);
      return;
    }
    if (mine !== generation) return;
    const isPaused = (side, name) => paused.some(p => p.side === side && p.name === name);

    for (const [side, table] of tables) {
      if (!table.isConnected) continue;
      table.dataset.pauses = 'done';
      const head = table.querySelector('thead tr');
      if (!head.querySelector('th.pause-col')) {
        const th = document.createElement('th');
        th.className = 'pause-col';
        th.textContent = side === 'outbox' ? 'Publishing' : 'Consuming';
        head.appendChild(th);
      }
      for (const row of table.querySelectorAll('tbody tr')) {
        row.querySelectorAll('.pause-cell, .paused-badge').forEach(el => el.remove());
        const cell = document.createElement('td');
        cell.className = 'pause-cell';
        if (row.dataset.name !== undefined) {
          const name = row.dataset.name;
          const on = isPaused(side, name);
          if (on) {
            const badge = document.createElement('span');
            badge.className = 'paused-badge';
            badge.dataset.testid = 'paused-badge';
            badge.textContent = 'paused';
            row.firstElementChild.append(' ', badge);
          }
          cell.appendChild(button(side, name, on));
        }
        row.appendChild(cell);
      }
    }

    main.querySelector('#pauses')?.remove();
    const section = document.createElement('section');
    section.id = 'pauses';
    section.dataset.testid = 'pauses';
    section.innerHTML = `<h2>Paused</h2>
      ${paused.length === 0 ? '<p class="muted">Nothing is paused.</p>' : `<table data-testid="paused-list"><thead><tr><th>Side</th><th>Topic / consumer</th><th>Paused</th><th>By</th><th></th></tr></thead><tbody>
        ${paused.map((p, i) => `<tr data-paused="${i}"><td>${p.side}</td><td>${esc(p.name)} <span class="paused-badge">paused</span></td><td>${fmtTime(p.pausedAt)}</td><td>${esc(p.pausedBy || '—')}</td><td></td></tr>`).join('')}
      </tbody></table>`}
      <form class="toolbar" id="pause-form" autocomplete="off">
        <select name="side" aria-label="side"><option value="outbox">outbox topic</option><option value="inbox">inbox consumer</option></select>
        <input name="name" placeholder="topic or consumer" aria-label="name" required maxlength="255">
        <button type="submit">Pause</button>
      </form>`;
    paused.forEach((p, i) => section.querySelector(`tr[data-paused="${i}"] td:last-child`).appendChild(button(p.side, p.name, true)));
    section.querySelector('#pause-form').addEventListener('submit', e => {
      e.preventDefault();
      const f = new FormData(e.target);
      const name = String(f.get('name') || '').trim();
      if (name) toggle(String(f.get('side')), name, true);
    });
    const firstHeading = main.querySelector('h2');
    if (firstHeading) main.insertBefore(section, firstHeading); else main.appendChild(section);
  }

  // The overview is re-rendered by app.js (on navigation and every refresh): decorate each new rendering once.
  new MutationObserver(() => { decorate(false); }).observe(main, { childList: true });
  decorate(false);
})();
