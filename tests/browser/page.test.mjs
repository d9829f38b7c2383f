// The index page and the API in a real browser: headless Chromium (Debian's, driven by
// playwright-core) against the real server on a free port, with a memory store and a generous
// rate limit. Checks the page's layout at a phone's and a laptop's width, its form, its
// Content-Security-Policy (no violation), and a page on another origin using the API with fetch.
// Screenshots go to RDV_SCREENSHOT_DIR for a person to look at.
import {after, before, test} from 'node:test';
import assert from 'node:assert/strict';
import {mkdirSync} from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import {chromium} from 'playwright-core';
import {startServer, stop} from '../js/rendezvous_server.mjs';

const SERVER = process.env.RDV_SERVER;
const CHROMIUM = process.env.RDV_CHROMIUM || '/usr/bin/chromium';
const SCREENSHOTS = process.env.RDV_SCREENSHOT_DIR || path.resolve('screenshots');
const RUN = `${process.pid}-${Date.now()}`;  // keys unique to this run

let server;       // the rendezvous-server child process
let api;          // its origin, http://127.0.0.1:PORT
let otherOrigin;  // a node http server on another port: the "other site"
let other;
let browser;

// The other site's page: its own script uses the API with fetch, as a web app would.
const CROSS_PAGE = `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>another origin</title></head>
<body><h1>Another origin using the API</h1><pre id="log"></pre>
<script>
async function useApi(api, key) {
  const url = api + '/' + encodeURIComponent(key);
  const steps = {};
  let r = await fetch(url, {method: 'PUT', body: 'from another origin',
                            headers: {'X-TTL': '60', 'X-Owner-Secret': 'cross-secret'}});
  steps.put = {status: r.status, etag: r.headers.get('ETag')};
  r = await fetch(url, {cache: 'no-store'});
  steps.get = {status: r.status, body: await r.text(), etag: r.headers.get('ETag'),
               expiresIn: r.headers.get('X-Expires-In'),
               remaining: r.headers.get('RateLimit-Remaining')};
  r = await fetch(url, {cache: 'no-store', headers: {'If-None-Match': steps.get.etag}});
  steps.conditional = {status: r.status, body: await r.text()};
  try {
    await fetch(url, {method: 'PUT', body: 'x', headers: {'X-Not-Allowed': '1'}});
    steps.unlistedHeader = 'sent';
  } catch (error) {
    steps.unlistedHeader = 'refused by the preflight';
  }
  r = await fetch(url, {method: 'DELETE'});
  steps.deleteWithoutSecret = {status: r.status};
  r = await fetch(url, {method: 'DELETE', headers: {'X-Owner-Secret': 'cross-secret'}});
  steps.delete = {status: r.status};
  r = await fetch(url, {cache: 'no-store'});
  steps.after = {status: r.status};
  document.getElementById('log').textContent = JSON.stringify(steps, null, 2);
  return steps;
}
</script></body></html>`;

before(async () => {
  assert.ok(SERVER, 'RDV_SERVER must name the server binary');
  mkdirSync(SCREENSHOTS, {recursive: true});
  ({child: server, origin: api} = await startServer(1000000));
  other = http.createServer((request, response) => {
    response.writeHead(200, {'Content-Type': 'text/html; charset=utf-8'});
    response.end(CROSS_PAGE);
  });
  await new Promise((resolve) => other.listen(0, '127.0.0.1', resolve));
  otherOrigin = `http://127.0.0.1:${other.address().port}`;
  // --no-sandbox: the tests may run as root, where Chromium's sandbox refuses to start.
  browser = await chromium.launch({executablePath: CHROMIUM, args: ['--no-sandbox']});
});

after(async () => {
  if (browser) await browser.close();
  if (other) await new Promise((resolve) => other.close(resolve));
  await stop(server);
});

// Opens the index page at `width` px, collecting console errors and CSP violations.
async function openIndex(width) {
  const page = await browser.newPage({viewport: {width, height: 900}});
  const problems = [];
  page.on('console', (message) => {
    if (message.type() === 'error' || message.type() === 'warning') {
      problems.push(`console ${message.type()}: ${message.text()}`);
    }
  });
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  const requested = [];
  page.on('request', (request) => requested.push(new URL(request.url()).pathname));
  // Injected by the browser driver, so the page's CSP does not apply to it.
  await page.addInitScript(() => {
    window.violations = [];
    document.addEventListener('securitypolicyviolation', (event) => {
      window.violations.push(`${event.violatedDirective} ${event.blockedURI}`);
    });
  });
  const answer = await page.goto(api + '/');
  assert.equal(answer.status(), 200);
  return {page, problems, requested, headers: answer.headers()};
}

// What sticks out to the right at the page's width: the document, or any element.
function overflow(page) {
  return page.evaluate(() => {
    const width = document.documentElement.clientWidth;
    const found = [];
    if (document.documentElement.scrollWidth > width) {
      found.push(`document is ${document.documentElement.scrollWidth} px wide in ${width}`);
    }
    for (const element of document.querySelectorAll('body *')) {
      const right = element.getBoundingClientRect().right;
      if (right > width + 0.5) found.push(`${element.tagName} ends at ${right} px`);
      if (['PRE', 'TABLE', 'TD'].includes(element.tagName) &&
          element.scrollWidth > element.clientWidth + 1) {
        found.push(`${element.tagName} scrolls: ${element.scrollWidth} in ${element.clientWidth}` +
                   ` (${element.textContent.slice(0, 40)})`);
      }
    }
    return found;
  });
}

for (const width of [390, 1280]) {
  test(`the index page does not overflow at ${width} px`, async () => {
    const {page, problems} = await openIndex(width);
    await page.screenshot({path: path.join(SCREENSHOTS, `index-${width}.png`), fullPage: true});
    assert.deepEqual(await overflow(page), []);
    assert.ok((await page.locator('pre').count()) >= 6);
    assert.deepEqual(problems, []);
    assert.deepEqual(await page.evaluate(() => window.violations), []);
    await page.close();
  });
}

test('the page has a policy, a cache lifetime and its own icon', async () => {
  const {page, problems, requested, headers} = await openIndex(1280);
  assert.match(headers['content-security-policy'], /default-src 'none'; script-src 'sha256-/);
  assert.match(headers['content-security-policy'], /connect-src 'self'/);
  assert.equal(headers['cache-control'], 'public, max-age=300');
  await page.waitForLoadState('networkidle');
  assert.deepEqual(requested.filter((p) => p !== '/'), [], 'the page loads nothing else');
  assert.deepEqual(problems, []);
  await page.close();
  const icon = await fetch(api + '/favicon.ico');
  assert.equal(icon.status, 204);
  assert.equal(icon.headers.get('cache-control'), 'public, max-age=86400');
  assert.equal(icon.headers.get('ratelimit-remaining'), null, 'the icon costs no token');
});

test('the form stores a key and reads it back', async () => {
  const {page, problems} = await openIndex(390);
  const key = `form-${RUN}`;
  await page.fill('#key', key);
  await page.fill('#value', 'typed in the form');
  await page.fill('#ttl', '90');
  await page.fill('#secret', 'form-secret');
  await page.click('#store');
  const result = page.locator('#result');
  await page.waitForFunction(() => /^200 .*\nETag: /.test(
      document.getElementById('result').textContent));
  const stored = await result.textContent();
  const etag = /ETag: (\S+)/.exec(stored)[1];
  const expiresIn = Number(/X-Expires-In: (\d+)/.exec(stored)[1]);
  assert.ok(expiresIn > 80 && expiresIn <= 90, stored);
  assert.match(stored, /RateLimit-Remaining: \d+/);

  await page.fill('#value', '');
  await page.click('#read');
  await page.waitForFunction(() => /^200 [\s\S]*typed in the form$/.test(
      document.getElementById('result').textContent));
  const read = await result.textContent();
  assert.equal(/ETag: (\S+)/.exec(read)[1], etag);
  assert.match(read, /X-Expires-In: \d+/);
  assert.match(read, /RateLimit-Remaining: \d+/);
  assert.equal(await page.inputValue('#value'), 'typed in the form');
  await page.screenshot({path: path.join(SCREENSHOTS, 'form-390.png'), fullPage: false});

  // The key "favicon.ico" is still a key from the form, though /favicon.ico is the server's.
  await page.fill('#key', 'favicon.ico');
  await page.fill('#value', 'not an icon');
  await page.fill('#secret', '');
  await page.click('#store');
  await page.waitForFunction(() => document.getElementById('result').textContent.startsWith('200'));
  await page.fill('#value', '');
  await page.click('#read');
  await page.waitForFunction(() => /^200 [\s\S]*not an icon$/.test(
      document.getElementById('result').textContent));

  // The owner's secret guards the key: without it the write is refused, and the page says so.
  await page.fill('#key', key);
  await page.fill('#secret', '');
  await page.click('#store');
  await page.waitForFunction(() => document.getElementById('result').textContent.startsWith('403'));
  assert.deepEqual(await overflow(page), []);
  assert.deepEqual(problems.filter((p) => !p.includes('403')), []);
  assert.deepEqual(await page.evaluate(() => window.violations), []);
  await page.close();
});

test('a page on another origin uses the API with fetch', async () => {
  const page = await browser.newPage({viewport: {width: 800, height: 700}});
  await page.goto(otherOrigin + '/');
  assert.notEqual(new URL(otherOrigin).origin, new URL(api).origin);
  const steps = await page.evaluate(([origin, key]) => window.useApi(origin, key),
                                    [api, `cross-${RUN}`]);
  await page.screenshot({path: path.join(SCREENSHOTS, 'other-origin.png')});
  await page.close();
  assert.equal(steps.put.status, 200, JSON.stringify(steps));
  assert.match(steps.put.etag, /^"[0-9a-f]+"$/);
  assert.equal(steps.get.status, 200);
  assert.equal(steps.get.body, 'from another origin');
  assert.equal(steps.get.etag, steps.put.etag);
  assert.ok(Number(steps.get.expiresIn) > 50 && Number(steps.get.expiresIn) <= 60, steps.get);
  assert.match(steps.get.remaining, /^\d+$/);
  assert.equal(steps.conditional.status, 304);
  assert.equal(steps.conditional.body, '');
  assert.equal(steps.unlistedHeader, 'refused by the preflight');
  assert.equal(steps.deleteWithoutSecret.status, 403);
  assert.equal(steps.delete.status, 204);
  assert.equal(steps.after.status, 404);
});
