// What the browser drivers share: whether a canvas shows a picture (more than one colour).
'use strict';

// Polls the canvas matched by `selector` in `page` (about once a second, `tries` times) until
// it holds at least two colours, since a guest keeps drawing while it boots. Returns the number
// of colours sampled (0: no canvas, 1: blank).
async function waitForPicture(page, selector, tries = 60) {
  let colours = 0;
  for (let i = 0; i < tries && colours < 2; i++) {
    colours = await page.evaluate((sel) => {
      const canvas = document.querySelector(sel);
      if (!canvas || canvas.width === 0 || canvas.height === 0) return 0;
      const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
      const seen = new Set();
      for (let p = 0; p < data.length && seen.size < 16; p += 4 * 7) {
        seen.add((data[p] << 16) | (data[p + 1] << 8) | data[p + 2]);
      }
      return seen.size;
    }, selector);
    if (colours < 2) await page.waitForTimeout(1000);
  }
  return colours;
}

// Headless Chromium as the tests run it (Debian's chromium, driven by playwright-core).
async function launch(chromium) {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    // Root in a container: Chromium's sandbox needs user namespaces it may not get here.
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
  });
}

module.exports = { waitForPicture, launch };
