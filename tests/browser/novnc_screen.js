#!/usr/bin/env node
// Opens a noVNC console page (the `page` URL kvmhub's display route answers) in headless Chromium,
// waits for the canvas, saves a screenshot and checks the guest's screen is not blank:
// the canvas must hold more than one colour. Usage: novnc_screen.js PAGE_URL SCREENSHOT.png
'use strict';

const { chromium } = require('playwright-core');
const { waitForPicture, launch } = require('./canvas');

async function main() {
  const [url, shot] = process.argv.slice(2);
  if (!url || !shot) {
    console.error('usage: novnc_screen.js PAGE_URL SCREENSHOT.png');
    process.exit(2);
  }
  const browser = await launch(chromium);
  try {
    const page = await browser.newPage({ viewport: { width: 1024, height: 768 } });
    page.on('console', (msg) => console.log('page:', msg.text()));
    await page.goto(url, { waitUntil: 'load' });
    await page.waitForSelector('#screen canvas', { timeout: 60000 });
    const colours = await waitForPicture(page, '#screen canvas');
    const status = await page.evaluate(() => document.getElementById('status')?.textContent || '');
    await page.screenshot({ path: shot });
    console.log(`status: ${status}`);
    console.log(`colours sampled: ${colours}`);
    if (colours < 2) {
      console.log('canvas blank');
      process.exit(1);
    }
    console.log('canvas not blank');
  } finally {
    await browser.close();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
