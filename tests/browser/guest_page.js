#!/usr/bin/env node
// Drives the tenant page (guest.html?token=..., the URL ctrl_url answers) in headless Chromium
// through a list of steps, and prints what the page shows. Confirmation dialogs are accepted.
// Usage: guest_page.js PAGE_URL STEP...
//   expect-state:RUNNING    wait until the page shows the VM in that state
//   expect-message:TEXT     wait until the page's message contains TEXT
//   click:ID                click the button with that id (start, reset, stop, force, ...)
//   screen-not-blank:FILE   click Screen, wait for the noVNC tab's canvas to show a picture,
//                           save a screenshot of it to FILE
//   shot:FILE               save a screenshot of the page
// Exit 0 when every step passed, 1 (with the reason) when one did not.
'use strict';

const { chromium } = require('playwright-core');
const { waitForPicture, launch } = require('./canvas');

const STEP_TIMEOUT = 60000;

async function shows(page) {
  return page.evaluate(() => ({
    state: document.body.dataset.vmState || '',
    message: document.getElementById('message').textContent || '',
  }));
}

// Polls `predicate(arg)` in the page until it holds. Not page.waitForFunction: that evaluates
// the predicate as a string inside the page, which the page's CSP (no 'unsafe-eval') refuses.
async function waitFor(page, predicate, arg, timeout) {
  const deadline = Date.now() + timeout;
  while (!(await page.evaluate(predicate, arg))) {
    if (Date.now() > deadline) throw new Error('timeout');
    await page.waitForTimeout(100);
  }
}

async function step(page, text) {
  const colon = text.indexOf(':');
  const verb = colon < 0 ? text : text.slice(0, colon);
  const arg = colon < 0 ? '' : text.slice(colon + 1);
  switch (verb) {
    case 'expect-state':
      await waitFor(page, (s) => document.body.dataset.vmState === s, arg, STEP_TIMEOUT)
        .catch(() => { throw new Error(`timed out waiting for the state ${arg}`); });
      return;
    case 'expect-message':
      await waitFor(page, (t) => (document.getElementById('message').textContent || '').includes(t), arg,
                    STEP_TIMEOUT / 2)
        .catch(() => { throw new Error(`timed out waiting for the message "${arg}"`); });
      return;
    case 'click':
      await page.click('#' + arg, { timeout: STEP_TIMEOUT });
      return;
    case 'screen-not-blank': {
      const [tab] = await Promise.all([page.context().waitForEvent('page', { timeout: STEP_TIMEOUT }),
                                       page.click('#screen', { timeout: STEP_TIMEOUT })]);
      await tab.waitForSelector('#screen canvas', { timeout: STEP_TIMEOUT });
      const colours = await waitForPicture(tab, '#screen canvas');
      console.log(`console: ${tab.url().replace(/password=[^&]*/, 'password=...').replace(/ticket%3D[^%&]*/, 'ticket%3D...')}`);
      console.log(`colours sampled: ${colours}`);
      await tab.screenshot({ path: arg });
      await tab.close();
      if (colours < 2) throw new Error('the console canvas stayed blank');
      return;
    }
    case 'shot':
      await page.screenshot({ path: arg, fullPage: true });
      return;
    default:
      throw new Error(`unknown step ${text}`);
  }
}

async function main() {
  const [url, ...steps] = process.argv.slice(2);
  if (!url) {
    console.error('usage: guest_page.js PAGE_URL STEP...');
    process.exit(2);
  }
  const browser = await launch(chromium);
  let failed = null;
  try {
    // A phone-sized window: the page must work there.
    const context = await browser.newContext({ viewport: { width: 390, height: 844 } });
    const page = await context.newPage();
    page.on('dialog', (dialog) => dialog.accept());
    page.on('pageerror', (err) => console.log('page error:', err.message));
    await page.goto(url, { waitUntil: 'load' });
    for (const s of steps) {
      try {
        await step(page, s);
        const now = await shows(page);
        console.log(`step ${s}: ok (state ${now.state || '-'})`);
      } catch (err) {
        failed = `step ${s}: ${err.message}`;
        break;
      }
    }
    const last = await shows(page);
    console.log(`state: ${last.state}`);
    console.log(`message: ${last.message}`);
  } finally {
    await browser.close();
  }
  if (failed) {
    console.log(failed);
    process.exit(1);
  }
  console.log('all steps passed');
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
