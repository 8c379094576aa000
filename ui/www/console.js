// The serial console page: xterm.js on a websocket to kvmhub's console proxy.
// URL parameters: path (websocket path with its ticket, from /vm/display/), readonly=1 for logs.
'use strict';

(function () {
  const params = new URLSearchParams(window.location.search);
  const path = params.get('path');
  const readOnly = params.get('readonly') === '1';
  const status = document.getElementById('status');

  function show(state, text) {
    status.className = 'status ' + state;
    status.textContent = text;
    document.body.dataset.state = state;
  }

  // What a close code means for the person looking at the page.
  function explain(event) {
    const reason = event.reason || '';
    switch (event.code) {
      case 1000: return 'Console closed' + (reason ? ': ' + reason : '.');
      case 1001: return 'The server went away' + (reason ? ': ' + reason : '.');
      case 4401:
      case 4403: return 'This console link was already used or is not valid: ' + reason +
                        ' Open the console again from the VM page.';
      case 4410: return 'This console link has expired. Open the console again from the VM page.';
      case 4409: return 'Console closed: ' + (reason || 'another console session took over.');
      case 4408: return 'Console closed: ' + (reason || 'time limit reached.');
      case 4404: return 'No such VM or host: ' + reason;
      case 4502: return 'Cannot reach the console: ' + reason;
      default: return 'Connection lost (code ' + event.code + ')' + (reason ? ': ' + reason : '.');
    }
  }

  if (!path) {
    show('error', 'No console given: open this page through the Console button (the URL needs a path).');
    return;
  }

  const term = new Terminal({ convertEol: false, cursorBlink: true, scrollback: 5000 });
  const fit = new FitAddon.FitAddon();
  term.loadAddon(fit);
  term.open(document.getElementById('terminal'));
  fit.fit();
  window.addEventListener('resize', () => fit.fit());
  window.kvmhubTerminal = term;  // for tests

  const scheme = window.location.protocol === 'https:' ? 'wss://' : 'ws://';
  const url = scheme + window.location.host + '/' + path.replace(/^\/+/, '');
  const ws = new WebSocket(url, ['binary']);
  ws.binaryType = 'arraybuffer';
  const encoder = new TextEncoder();
  let opened = false;

  ws.onopen = () => {
    opened = true;
    show('open', readOnly ? 'Connected (read only)' : 'Connected — press Enter if the screen stays empty');
    term.focus();
  };
  ws.onmessage = (event) => {
    term.write(typeof event.data === 'string' ? event.data : new Uint8Array(event.data));
  };
  ws.onclose = (event) => {
    const clean = event.code === 1000 || event.code === 1001;
    show(clean ? 'closed' : 'error', opened || event.code !== 1006 ? explain(event)
                                                                    : 'Cannot connect to the console proxy.');
  };
  if (!readOnly) {
    term.onData((data) => {
      if (ws.readyState === WebSocket.OPEN) ws.send(encoder.encode(data));
    });
  }
})();
