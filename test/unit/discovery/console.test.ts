import { readFileSync } from 'node:fs';
import path from 'node:path';
import { CONSOLE_CSP } from '../../../discovery/console';
import { makeApp, TestApp } from './helpers';

/** The web console's files: content types, caching, the page's CSP, and no inline script or handler. */
let t: TestApp;
beforeAll(async () => {
  t = await makeApp();
});
afterAll(async () => {
  await t.app.close();
});

const ROOT = path.resolve(__dirname, '..', '..', '..');

test.each([
  ['/', 'text/html; charset=utf-8', 'no-cache'],
  ['/console/console.js', 'text/javascript; charset=utf-8', 'no-cache'],
  ['/console/console.css', 'text/css; charset=utf-8', 'no-cache'],
  ['/console/uplot.min.js', 'text/javascript; charset=utf-8', 'public, max-age=86400'],
  ['/console/uplot.min.css', 'text/css; charset=utf-8', 'public, max-age=86400'],
  ['/console/hls.min.js', 'text/javascript; charset=utf-8', 'public, max-age=86400'],
  ['/console/mpegts.js', 'text/javascript; charset=utf-8', 'public, max-age=86400'],
])('GET %s: %s, Cache-Control %s, nosniff, an ETag that answers 304', async (url, type, cache) => {
  const res = await t.app.inject({ method: 'GET', url });
  expect(res.statusCode).toBe(200);
  expect(res.headers['content-type']).toBe(type);
  expect(res.headers['cache-control']).toBe(cache);
  expect(res.headers['x-content-type-options']).toBe('nosniff');
  expect(res.body.length).toBeGreaterThan(100);
  const etag = String(res.headers.etag);
  expect(etag).toMatch(/^"[A-Za-z0-9_-]{22}"$/);
  const again = await t.app.inject({ method: 'GET', url, headers: { 'if-none-match': etag } });
  expect(again.statusCode).toBe(304);
  expect(again.body).toBe('');
  const other = await t.app.inject({ method: 'GET', url, headers: { 'if-none-match': '"nope"' } });
  expect(other.statusCode).toBe(200);
});

test('the page has a strict CSP (scripts and styles from this origin only) and no referrer', async () => {
  const res = await t.app.inject({ method: 'GET', url: '/' });
  const csp = String(res.headers['content-security-policy']);
  expect(csp).toBe(CONSOLE_CSP);
  expect(csp).toContain("script-src 'self'");
  expect(csp).toContain("style-src 'self'");
  expect(csp).toContain("default-src 'none'");
  expect(csp).toContain("frame-ancestors 'none'");
  expect(csp).not.toContain('unsafe-');
  expect(res.headers['referrer-policy']).toBe('no-referrer');
});

test('uPlot is the pinned version from node_modules', async () => {
  const pinned = (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string> }).dependencies.uplot;
  expect(pinned).toMatch(/^\d+\.\d+\.\d+$/);
  const res = await t.app.inject({ method: 'GET', url: '/console/uplot.min.js' });
  expect(res.body).toBe(readFileSync(path.join(ROOT, 'node_modules', 'uplot', 'dist', 'uPlot.iife.min.js'), 'utf8'));
});

test('the page and its script: no inline script, style or event handler (the CSP would block them)', () => {
  const html = readFileSync(path.join(ROOT, 'discovery', 'console', 'index.html'), 'utf8');
  const js = readFileSync(path.join(ROOT, 'discovery', 'console', 'console.js'), 'utf8');
  for (const m of html.matchAll(/<script\b[^>]*>([\s\S]*?)<\/script>/g)) {
    expect(m[0]).toMatch(/\bsrc="\/console\/[\w.-]+\.js"/);
    expect(m[1].trim()).toBe('');
  }
  expect(html).not.toMatch(/<style\b/i);
  expect(html).not.toMatch(/\sstyle=/i);
  expect(html).not.toMatch(/\son[a-z]+=/i);
  expect(js).not.toMatch(/innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(|new Function/);
  expect(js).not.toMatch(/setAttribute\(\s*['"](style|on[a-z]+)['"]/);
  // the token never goes into a URL
  expect(js).not.toMatch(/[?&](token|access_token)=/);
});

test('a HEAD of the page and an unknown console file', async () => {
  expect((await t.app.inject({ method: 'HEAD', url: '/' })).statusCode).toBe(200);
  const res = await t.app.inject({ method: 'GET', url: '/console/nope.js' });
  expect(res.statusCode).toBe(404);
  expect(res.json()).toMatchObject({ code: 'NOT_FOUND' });
});
