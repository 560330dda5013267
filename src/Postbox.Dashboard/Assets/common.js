// Postbox dashboard: what every script of the page shares (app.js, activity.js, pauses.js), loaded first.
(() => {
  'use strict';
  const meta = name => document.querySelector(`meta[name="${name}"]`).content;
  const base = meta('postbox-base');
  const token = meta('postbox-token');

  // GET (no body) or an antiforgery POST (a body) to the dashboard's JSON API; an error says the status and its title.
  async function api(path, body) {
    const init = body === undefined ? {} : {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'RequestVerificationToken': token },
      body: JSON.stringify(body),
    };
    // Absolute on the origin: opened as http://user:password@host/..., the page's own URL carries the credentials and the
    // browser refuses to fetch a URL relative to it (the origin has none; the browser still sends the page's login).
    const response = await fetch(new URL(base + '/api' + path, location.origin), { credentials: 'same-origin', ...init });
    if (!response.ok) {
      let detail = '';
      try { detail = (await response.json()).title || ''; } catch { /* not JSON */ }
      throw new Error(`${response.status} ${detail}`.trim());
    }
    return response.json();
  }

  function toast(text) {
    const el = document.getElementById('toast');
    el.textContent = text;
    el.hidden = false;
    clearTimeout(toast.t);
    toast.t = setTimeout(() => { el.hidden = true; }, 4000);
  }

  function confirmAction(text) {
    const dialog = document.getElementById('confirm');
    document.getElementById('confirm-text').textContent = text;
    return new Promise(resolve => {
      dialog.addEventListener('close', () => resolve(dialog.returnValue === 'ok'), { once: true });
      dialog.returnValue = 'cancel';
      dialog.showModal();
    });
  }

  window.postboxCommon = {
    meta,
    base,
    api,
    toast,
    confirmAction,
    esc: v => String(v ?? '').replace(/[&<>"']/g, c => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c])),
    fmtTime: t => t ? new Date(t).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z') : '',
  };
})();
