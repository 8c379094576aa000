#!/usr/bin/env node
// Another origin's page in the browser of a logged-in admin (the `token` cookie set for
// kvmhub's host), and then one of kvmhub's own pages, each trying the same kvmhub routes.
// Prints one line per attempt; the test (tests/integration/csrf_test.cpp) judges them.
// Usage: csrf.js KVMHUB_URL EVIL_PAGE_URL TOKEN CHANGE_PATH WS_PATH DESC_PATH
//   evil link:      <status>   a plain link on the other page to CHANGE_PATH, clicked
//   evil form:      <status>   a form on the other page posting to CHANGE_PATH, submitted
//   evil fetch:     <text>     fetch(CHANGE_PATH) with credentials from the other page
//   evil websocket: <code>     a websocket to WS_PATH from the other page (its close code)
//   own fetch:      <status>   POST DESC_PATH (with its query) from kvmhub's /kvmhub/console.html
//   own websocket:  <code>     the websocket to WS_PATH from that page
'use strict';

const { chromium } = require('playwright-core');
const { launch } = require('./canvas');

const [kvm, evil, token, changePath, wsPath, descPath] = process.argv.slice(2);
const wsUrl = kvm.replace(/^http/, 'ws') + wsPath;

async function websocketClose(page, url) {
  return page.evaluate((u) => new Promise((resolve) => {
    const ws = new WebSocket(u);
    ws.onclose = (e) => resolve(String(e.code));
    setTimeout(() => resolve('no close within 20 s'), 20000);
  }), url);
}

async function navigationStatus(page, selector) {
  const [response] = await Promise.all([page.waitForNavigation({ timeout: 20000 }), page.click(selector)]);
  return response ? String(response.status()) : 'no response';
}

(async () => {
  const browser = await launch(chromium);
  try {
    const context = await browser.newContext();
    await context.addCookies([{ name: 'token', value: token, url: kvm, httpOnly: true, sameSite: 'Lax' }]);
    const page = await context.newPage();

    await page.goto(evil);
    console.log(`evil link: ${await navigationStatus(page, '#link')}`);
    await page.goto(evil);
    console.log(`evil form: ${await navigationStatus(page, '#submit')}`);
    await page.goto(evil);
    const fetched = await page.evaluate(async (u) => {
      try {
        const r = await fetch(u, { method: 'POST', credentials: 'include', mode: 'no-cors' });
        return `sent (${r.type})`;
      } catch (e) {
        return `failed: ${e}`;
      }
    }, kvm + changePath);
    console.log(`evil fetch: ${fetched}`);
    console.log(`evil websocket: ${await websocketClose(page, wsUrl)}`);

    await page.goto(kvm + '/kvmhub/console.html');
    const own = await page.evaluate(async (u) => {
      const r = await fetch(u, { method: 'POST' });
      return `${r.status} ${await r.text()}`;
    }, descPath);
    console.log(`own fetch: ${own}`);
    console.log(`own websocket: ${await websocketClose(page, wsUrl)}`);
  } finally {
    await browser.close();
  }
})().catch((e) => {
  console.error(`csrf.js: ${e.message}`);
  process.exit(1);
});
