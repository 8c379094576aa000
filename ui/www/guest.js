// The tenant page: one VM, reached through the link an admin made with ctrl_url
// (/guest.html?token=...). The token is base64url("<host>/<uuid>?k=..&e=..&l=.."); every call
// goes to /user/vm/<cmd>/<host>/<uuid> with the token's query appended unchanged. Plain DOM:
// everything shown goes through textContent, never innerHTML; the token is never logged.
'use strict';

(function () {
  const $ = (id) => document.getElementById(id);
  const message = $('message');
  const main = $('main');
  const busy = $('busy');
  const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

  // The page's folder ("" or "/kvm"), so that a reverse proxy prefix carries over to the calls
  // and to the console pages.
  const prefix = window.location.pathname.replace(/\/[^/]*$/, '');

  function say(kind, text) {
    message.hidden = !text;
    message.className = 'message ' + kind;
    message.textContent = text || '';
    document.body.dataset.message = text ? kind : '';
  }

  // The page cannot work at all: say why and show nothing else.
  function fatal(text) {
    main.hidden = true;
    $('state').textContent = '';
    say('error', text);
    document.body.dataset.fatal = '1';
  }

  // base64url("<host>/<uuid>?k=&e=&l=") -> {host, uuid, query, expiry}; null when garbled.
  function decode(token) {
    if (!token || !/^[A-Za-z0-9_-]+={0,2}$/.test(token)) return null;
    let text;
    try {
      text = atob(token.replace(/-/g, '+').replace(/_/g, '/').replace(/=+$/, '') +
                  '==='.slice((token.replace(/=+$/, '').length + 3) % 4));
    } catch (e) {
      return null;
    }
    const m = /^([A-Za-z0-9][A-Za-z0-9._-]*)\/([^/?]+)\?(k=[A-Za-z0-9_-]+&e=(\d+)(?:&l=[A-Za-z0-9_-]+)?)$/.exec(text);
    if (!m || !UUID.test(m[2])) return null;
    return { host: m[1], uuid: m[2], query: m[3], expiry: Number(m[4]) };
  }

  const link = decode(new URLSearchParams(window.location.search).get('token'));
  if (!link) {
    fatal('This link is incomplete or damaged: open the full address you were given ' +
          '(it ends with ?token=...). Copying it from an e-mail sometimes cuts it.');
    return;
  }

  function when(seconds) {
    return new Date(seconds * 1000).toLocaleString();
  }

  // An error answer -> what the person can do about it.
  function explain(status, body, what) {
    const desc = body && typeof body.desc === 'string' ? body.desc : '';
    if (status === 410) return { fatal: true, text: 'This link expired on ' + when(link.expiry) +
                                 '. Ask the person who gave it to you for a new one.' };
    if (status === 403 && /does not allow/.test(desc)) return { fatal: false, text: 'Not allowed: ' + desc };
    if (status === 403) return { fatal: true, text: 'This link is not valid any more: it was revoked or ' +
                                 'changed. Ask the person who gave it to you for a new one.' };
    if (status === 0) return { fatal: false, text: what + ' failed: the server cannot be reached.' };
    return { fatal: false, text: what + ' failed: ' + (desc || 'HTTP ' + status) };
  }

  // Calls /user/vm/<cmd>/<host>/<uuid>; resolves to the JSON answer, or null after showing why.
  async function call(method, cmd, what, extra, body) {
    const url = prefix + '/user/vm/' + cmd + '/' + encodeURIComponent(link.host) + '/' +
                encodeURIComponent(link.uuid) + '?' + link.query + (extra || '');
    let status = 0;
    let answer = null;
    try {
      const r = await fetch(url, {
        method,
        headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
        credentials: 'omit',
        cache: 'no-store',
      });
      status = r.status;
      answer = await r.json().catch(() => null);
    } catch (e) {
      status = 0;
    }
    if (status === 200 && answer && answer.result !== 'ERR') return answer;
    const why = explain(status, answer, what);
    if (why.fatal) fatal(why.text);
    else say('error', why.text);
    return null;
  }

  let rights = null;  // null: unknown, everything shown
  let guest = null;
  let snapshotsLoaded = false;
  let isosLoaded = false;

  function allowed(right) {
    return rights === null || rights.includes(right);
  }

  function el(tag, text, cls) {
    const e = document.createElement(tag);
    if (text !== undefined) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  }

  function row(cells) {
    const tr = el('tr');
    for (const c of cells) tr.appendChild(el('td', c === undefined || c === null || c === '' ? '—' : c));
    return tr;
  }

  function mib(kib) {
    const n = Number(kib);
    if (!Number.isFinite(n)) return '—';
    return n >= 1048576 ? (n / 1048576).toFixed(1).replace(/\.0$/, '') + ' GiB' : Math.round(n / 1024) + ' MiB';
  }

  function showState(state) {
    const s = $('state');
    s.textContent = state ? state.toLowerCase() : '?';
    s.dataset.state = state || '';
    document.body.dataset.vmState = state || '';
  }

  function render(g) {
    guest = g;
    const name = g.title || g.name || g.uuid;
    $('title').textContent = name;
    document.title = name + ' — ' + (g.state || '').toLowerCase();
    showState(g.state);
    const details = $('details');
    details.replaceChildren();
    const md = g.mdconfig && typeof g.mdconfig === 'object' ? g.mdconfig : {};
    const items = [
      ['Description', g.desc],
      ['vCPUs', g.maxcpu && g.maxcpu !== g.curcpu ? g.curcpu + ' (max ' + g.maxcpu + ')' : g.curcpu],
      ['Memory', g.maxmem && g.maxmem !== g.curmem ? mib(g.curmem) + ' (max ' + mib(g.maxmem) + ')' : mib(g.curmem)],
      ['IP address', md.vm_ipaddr],
      ['Gateway', md.vm_gateway],
      ['UUID', g.uuid],
      ['Host', link.host],
    ];
    for (const [k, v] of items) {
      if (v === undefined || v === null || v === '') continue;
      details.appendChild(el('dt', k));
      details.appendChild(el('dd', v));
    }
    const disks = $('disks');
    disks.replaceChildren();
    for (const d of g.disks || []) disks.appendChild(row([d.dev, d.device, d.bus, d.vol]));
    if (!disks.children.length) disks.appendChild(row(['none']));
    const nets = $('nets');
    nets.replaceChildren();
    for (const n of g.nets || []) nets.appendChild(row([n.mac, n.type, n.model]));
    if (!nets.children.length) nets.appendChild(row(['none']));

    const running = g.state === 'RUNNING' || g.state === 'PAUSED' || g.state === 'BLOCKED';
    $('start').disabled = running;
    for (const id of ['reset', 'stop', 'force', 'screen', 'serial']) $(id).disabled = !running;

    const cdroms = (g.disks || []).filter((d) => d.device === 'cdrom' && d.dev);
    const devSelect = $('cdrom-dev');
    const keep = devSelect.value;
    devSelect.replaceChildren();
    for (const d of cdroms) {
      const o = el('option', d.dev + (d.vol ? ' (' + d.vol.replace(/^.*\//, '') + ')' : ''));
      o.value = d.dev;
      devSelect.appendChild(o);
    }
    if (keep) devSelect.value = keep;
    $('cdrom-form').hidden = cdroms.length === 0;
    $('cdrom-none').hidden = cdroms.length !== 0;
  }

  function applyRights() {
    for (const e of document.querySelectorAll('[data-right]')) e.hidden = !allowed(e.dataset.right);
  }

  async function refresh() {
    const answer = await call('GET', 'list', 'Reading the VM');
    if (!answer || !answer.guest) return false;
    if (answer.link && Array.isArray(answer.link.rights)) {
      rights = answer.link.rights;
      applyRights();
    }
    render(answer.guest);
    main.hidden = false;
    if (allowed('snapshot') && !snapshotsLoaded) await loadSnapshots();
    if (allowed('cdrom') && !isosLoaded) await loadIsos();
    return true;
  }

  // After a change the state may move on for a while (a guest shutting down): look again a
  // few times rather than poll all along (every call is in the audit log).
  let followUp = [];
  function follow() {
    for (const t of followUp) clearTimeout(t);
    followUp = [2000, 5000, 10000, 20000, 40000].map((ms) => setTimeout(refresh, ms));
  }

  async function act(button, method, cmd, what, extra, body) {
    button.disabled = true;
    busy.hidden = false;
    busy.textContent = what + '…';
    say('', '');
    try {
      const answer = await call(method, cmd, what, extra, body);
      if (answer) say('ok', what + ': done.');
      await refresh();
      follow();
      return answer;
    } finally {
      busy.hidden = true;
      button.disabled = false;
      if (guest) render(guest);  // the state decides which buttons work
    }
  }

  async function loadSnapshots() {
    const answer = await call('GET', 'snapshot', 'Listing the snapshots');
    if (!answer) return;
    snapshotsLoaded = true;
    const list = $('snapshots');
    list.replaceChildren();
    const names = Array.isArray(answer.names) ? answer.names : [];
    for (const name of names) {
      const li = el('li');
      li.appendChild(el('span', name + (name === answer.current ? ' (current)' : ''), 'name'));
      const revert = el('button', 'Revert');
      revert.addEventListener('click', async () => {
        if (!confirm('Revert to snapshot "' + name + '"? Changes made since then are lost.')) return;
        await act(revert, 'POST', 'revert_snapshot', 'Reverting to ' + name, '&name=' + encodeURIComponent(name));
        await loadSnapshots();
      });
      const remove = el('button', 'Delete', 'danger');
      remove.addEventListener('click', async () => {
        if (!confirm('Delete snapshot "' + name + '"?')) return;
        await act(remove, 'POST', 'delete_snapshot', 'Deleting ' + name, '&name=' + encodeURIComponent(name));
        await loadSnapshots();
      });
      li.appendChild(revert);
      li.appendChild(remove);
      list.appendChild(li);
    }
    if (!names.length) list.appendChild(el('li', 'No snapshots yet.', 'note'));
  }

  async function loadIsos() {
    const answer = await call('GET', 'getiso', 'Listing the ISO images');
    if (!answer) return;
    isosLoaded = true;
    const select = $('cdrom-iso');
    select.replaceChildren();
    // isoname "" is the VM's own cidata ISO; the catalog may list it (with a description).
    const cidata = el('option', 'the VM\'s configuration disk (cidata)');
    cidata.value = '';
    select.appendChild(cidata);
    for (const iso of Array.isArray(answer.iso) ? answer.iso : []) {
      if (!iso || typeof iso.name !== 'string') continue;
      if (iso.name === '') {
        if (iso.desc) cidata.textContent = iso.desc + ' (the VM\'s configuration disk)';
        continue;
      }
      const o = el('option', iso.name + (iso.desc ? ' — ' + iso.desc : ''));
      o.value = iso.name;
      select.appendChild(o);
    }
  }

  // Opens a console page (noVNC or xterm.js) in a new tab: the tab is opened during the click
  // (browsers block pop-ups opened later), then sent to the page display answers (its "page").
  async function openConsole(button, disp, what) {
    const tab = window.open('', '_blank');
    const answer = await act(button, 'GET', 'display', what,
                             (disp ? '&disp=' + disp : '') + (prefix ? '&prefix=' + encodeURIComponent(prefix) : ''));
    if (!answer || typeof answer.page !== 'string' || !answer.page.startsWith('/')) {
        if (tab) tab.close();
        return;
    }
    if (tab) {
        tab.location.href = answer.page;
        say('ok', what + ': opened in a new tab.');
    } else {
      // Pop-ups blocked: offer the link instead.
      say('ok', '');
      const a = el('a', 'Open the ' + what.toLowerCase());
      a.href = answer.page;
      a.target = '_blank';
      message.replaceChildren(a);
      message.hidden = false;
    }
  }

  $('start').addEventListener('click', (e) => act(e.target, 'POST', 'start', 'Starting'));
  $('reset').addEventListener('click', (e) => {
    if (confirm('Reset the VM? Like pressing its reset button: unsaved work is lost.'))
      act(e.target, 'POST', 'reset', 'Resetting');
  });
  $('stop').addEventListener('click', (e) => act(e.target, 'GET', 'stop', 'Shutting down'));
  $('force').addEventListener('click', (e) => {
    if (confirm('Force stop? Like pulling the power plug: unsaved work is lost.'))
      act(e.target, 'POST', 'stop', 'Force stop');
  });
  $('screen').addEventListener('click', (e) => openConsole(e.target, '', 'Screen'));
  $('serial').addEventListener('click', (e) => openConsole(e.target, 'console', 'Serial console'));
  $('refresh').addEventListener('click', () => {
    say('', '');
    snapshotsLoaded = false;
    isosLoaded = false;
    refresh();
  });
  $('snapshot-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const name = $('snapshot-name').value.trim();
    const button = e.target.querySelector('button');
    await act(button, 'POST', 'snapshot', 'Taking a snapshot', name ? '&name=' + encodeURIComponent(name) : '');
    $('snapshot-name').value = '';
    await loadSnapshots();
  });
  $('cdrom-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const dev = $('cdrom-dev').value;
    if (!dev) return;
    act(e.target.querySelector('button'), 'POST', 'cdrom', 'Changing the CD-ROM', '&dev=' + encodeURIComponent(dev),
        { isoname: $('cdrom-iso').value });
  });

  const left = link.expiry - Date.now() / 1000;
  $('expiry').textContent = left > 0 ? 'This link works until ' + when(link.expiry) + '.'
                                     : 'This link expired on ' + when(link.expiry) + '.';
  refresh();
})();
