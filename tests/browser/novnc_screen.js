#!/usr/bin/env node
// Opens a noVNC console page (the `display` URL kvmhub answers) in headless Chromium,
// waits for the canvas, saves a screenshot and checks the guest's screen is not blank:
// the canvas must hold more than one colour. Usage: novnc_screen.js PAGE_URL SCREENSHOT.png
'use strict';

const { chromium } = require('playwright-core');

async function main() {
  const [url, shot] = process.argv.slice(2);
  if (!url || !shot) {
    console.error('usage: novnc_screen.js PAGE_URL SCREENSHOT.png');
    process.exit(2);
  }
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    // Root in a container: Chromium's sandbox needs user namespaces it may not get here.
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1024, height: 768 } });
    page.on('console', (msg) => console.log('page:', msg.text()));
    await page.goto(url, { waitUntil: 'load' });
    await page.waitForSelector('#screen canvas', { timeout: 60000 });
    // The guest keeps drawing while it boots; poll until the picture has content.
    let colours = 0;
    for (let i = 0; i < 60 && colours < 2; i++) {
      colours = await page.evaluate(() => {
        const canvas = document.querySelector('#screen canvas');
        if (!canvas || canvas.width === 0 || canvas.height === 0) return 0;
        const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
        const seen = new Set();
        for (let p = 0; p < data.length && seen.size < 16; p += 4 * 7) {
          seen.add((data[p] << 16) | (data[p + 1] << 8) | data[p + 2]);
        }
        return seen.size;
      });
      if (colours < 2) await page.waitForTimeout(1000);
    }
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
