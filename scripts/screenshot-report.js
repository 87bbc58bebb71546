#!/usr/bin/env node
// Opens a report in headless Chromium (Debian's `chromium`), fails on any console error or failed request,
// and writes a full-page screenshot: node scripts/screenshot-report.js REPORT.html OUT.png [WIDTH]
'use strict';
const { chromium } = require('playwright-core');
const path = require('path');

async function screenshotReport(htmlPath, pngPath, width = 1280) {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run', '--disable-component-update', '--disable-sync'],
  });
  const problems = [];
  try {
    const page = await browser.newPage({ viewport: { width, height: 900 } });
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(`console error: ${message.text()}`);
    });
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
    page.on('requestfailed', (request) => problems.push(`request failed: ${request.url()}`));
    await page.goto('file://' + path.resolve(htmlPath), { waitUntil: 'load' });
    const svgCount = await page.locator('svg').count();
    await page.screenshot({ path: pngPath, fullPage: true });
    return { problems, svgCount };
  } finally {
    await browser.close();
  }
}

module.exports = { screenshotReport };

if (require.main === module) {
  const [html, png, width] = process.argv.slice(2);
  if (!html || !png) {
    console.error('usage: node scripts/screenshot-report.js REPORT.html OUT.png [WIDTH]');
    process.exit(2);
  }
  screenshotReport(html, png, width ? Number(width) : undefined).then(({ problems, svgCount }) => {
    console.log(`${svgCount} charts; screenshot ${png}`);
    for (const problem of problems) console.error(problem);
    process.exitCode = problems.length ? 1 : 0;
  });
}
