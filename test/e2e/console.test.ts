/**
 * The operator console (discovery `/`, docs/console.md) in headless Chromium against a real cluster:
 * discovery + 2 origins + an edge (with a cluster secret, as `npm start` runs), a live ffmpeg publish
 * and an ffmpeg viewer on the edge. Screenshots at 1280 and 390 px go to test/e2e/screenshots/
 * (gitignored; the path is printed).
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Browser, ConsoleMessage, Page } from 'playwright-core';
import { memberCredential } from '../../common/cluster-credentials';
import { startCluster, ownerOf, TestCluster } from '../helpers/cluster';
import { ffmpegPublishArgs } from '../helpers/media';
import { startCommand, waitFor, TestProcess } from '../helpers/processes';
import { launchChromium } from '../helpers/browser';

jest.setTimeout(180_000);

const SCREENSHOTS = path.resolve(__dirname, 'screenshots');
let cluster: TestCluster;
let browser: Browser;
const procs: TestProcess[] = [];
const name = `con${randomBytes(3).toString('hex')}`;

beforeAll(async () => {
  mkdirSync(SCREENSHOTS, { recursive: true });
  cluster = await startCluster();
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await Promise.all(procs.map((p) => p.stop('SIGKILL')));
  await cluster?.stop();
});

interface ClusterJson {
  edges: Array<{ id: string }>;
  streams: Array<{ app: string; name: string; owner: { id: string } | null; viewers: { total: number } }>;
}

async function clusterJson(): Promise<ClusterJson> {
  return (await (await fetch(`${cluster.discoveryUrl}/v1/cluster`)).json()) as ClusterJson;
}

/** Console errors and uncaught exceptions of a page, except the refusals a test asks for on purpose. */
function watchErrors(page: Page): { errors: string[]; refusals: string[] } {
  const seen = { errors: [] as string[], refusals: [] as string[] };
  page.on('console', (m: ConsoleMessage) => {
    if (m.type() !== 'error') return;
    // Chromium logs every 4xx answer of fetch(); the refused admin calls are the point of a step below.
    if (m.location().url.includes('/v1/admin/') && /status of 40[13]/.test(m.text())) seen.refusals.push(m.text());
    else seen.errors.push(`${m.text()} (${m.location().url})`);
  });
  page.on('pageerror', (e) => seen.errors.push(`pageerror: ${e.message}`));
  return seen;
}

/** The trimmed text of the first match, '' when nothing matches (never waits for it). */
async function text(page: Page, selector: string): Promise<string> {
  const found = page.locator(selector);
  return (await found.count()) === 0 ? '' : ((await found.first().textContent()) ?? '').trim();
}

async function shed(page: Page, stream: string): Promise<string> {
  await page.evaluate("document.getElementById('toast').hidden = true");
  await page.locator(`tr[data-stream="${stream}"] button[data-action="shed"]`).click();
  await waitFor(async () => (await page.locator('#confirm[open]').count()) === 1, 5_000, 'the confirmation dialog');
  await page.locator('#confirm-ok').click();
  await waitFor(async () => (await page.locator('#toast:not([hidden])').count()) === 1 && !(await text(page, '#action-result')).endsWith('sending…'), 15_000, 'the action result');
  return text(page, '#action-result');
}

test('the console shows origins, the edge, a live stream with codec, bitrate and viewers per edge, charts and events; plays from the edge; shed needs the admin token', async () => {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const seen = watchErrors(page);
  try {
    await page.goto(`${cluster.discoveryUrl}/`);
    const html = await page.request.get(`${cluster.discoveryUrl}/`);
    expect(html.headers()['content-security-policy']).toContain("script-src 'self'");

    // Origins and the registered edge, before any stream: the "no streams yet" state with a publish command.
    await waitFor(async () => (await page.locator('#origins tr').count()) === 2, 15_000, 'both origins in the console');
    await waitFor(async () => (await clusterJson()).edges.length === 1, 20_000, 'the edge registered with discovery');
    const edgeId = (await clusterJson()).edges[0].id;
    await waitFor(async () => (await page.locator(`#edges tr[data-edge="${edgeId}"]`).count()) === 1, 10_000, 'the edge row');
    expect(await text(page, `#edges tr[data-edge="${edgeId}"] td.state`)).toBe('active');
    await waitFor(async () => await page.locator('#streams-empty').isVisible(), 10_000, 'the "no streams yet" state');
    expect(await text(page, '#publish-command')).toMatch(/ffmpeg .* -f flv rtmp:\/\/127\.0\.0\.1:\d+\/live\/demo/s);
    expect(await text(page, '#origins tr[data-origin="origin-1"] td.state')).toBe('active');
    expect(await text(page, '#origins tr[data-origin="origin-1"] .util span')).toMatch(/^\d+%$/);

    // A live publish, and a viewer on the edge (ffmpeg playing RTMP from the edge).
    procs.push(startCommand('ffmpeg', ffmpegPublishArgs(`${cluster.origins[0].rtmp}/live/${name}`), 'publisher'));
    const publisher = procs[procs.length - 1];
    const row = page.locator(`tr[data-stream="live/${name}"]`);
    await waitFor(async () => (await row.count()) === 1, 20_000, 'the stream row (live update)');
    expect(await text(page, `tr[data-stream="live/${name}"] td.owner`)).toBe('origin-1');
    await waitFor(async () => (await page.locator(`#events li[data-type="stream.claimed"]`).filter({ hasText: `live/${name}` }).count()) >= 1, 10_000, 'the publish in the event log');
    procs.push(startCommand('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-i', `${cluster.edge.rtmp}/live/${name}`, '-c', 'copy', '-f', 'null', '-'], 'viewer'));
    await waitFor(async () => /^[1-9]\d* viewers?$/.test(await text(page, `tr[data-stream="live/${name}"] .total`)), 30_000, 'a viewer counted on the stream', 250);
    await waitFor(async () => (await text(page, `tr[data-stream="live/${name}"] li[data-edge="${edgeId}"]`)).includes('RTMP 1'), 15_000, 'the viewer on the edge, by protocol');
    await waitFor(async () => Number(await text(page, `#edges tr[data-edge="${edgeId}"] td.viewers`)) >= 1, 15_000, "the edge's viewer count");
    await waitFor(async () => (await text(page, `tr[data-stream="live/${name}"] td.video`)).startsWith('H264'), 15_000, 'the codec');
    expect(await text(page, `tr[data-stream="live/${name}"] td.video`)).toMatch(/^H264 .*640×360/);
    await waitFor(async () => / · \d+(\.\d)? fps$/.test(await text(page, `tr[data-stream="live/${name}"] td.video`)), 15_000, 'the frame rate');
    expect(await text(page, `tr[data-stream="live/${name}"] td.audio`)).toMatch(/^AAC/);
    await waitFor(async () => /^\d+(\.\d+)? (kbit|Mbit)\/s$/.test(await text(page, `tr[data-stream="live/${name}"] td.bitrate`)), 15_000, 'the bitrate in');
    expect(Number(await text(page, '#totals [data-total="viewers"] dd'))).toBeGreaterThanOrEqual(1);

    // The charts are drawn: a canvas with a size in each.
    for (const id of ['chart-viewers', 'chart-util', 'chart-bw']) {
      const box = await page.locator(`#${id} canvas`).boundingBox();
      expect({ id, width: (box?.width ?? 0) > 100, height: (box?.height ?? 0) > 50 }).toEqual({ id, width: true, height: true });
    }
    expect(await page.locator('#chart-util .u-legend').textContent()).toContain('origin-2');

    // The player plays from the edge (HTTP-FLV through mpegts.js).
    await row.locator('button[data-kind="flv"]').click();
    await waitFor(async () => Number(await page.evaluate("document.getElementById('video').currentTime")) > 2, 30_000, 'the console player to play', 250);
    expect(await page.evaluate('window.consoleState.source')).toBe(`edge ${edgeId}`);
    expect(await page.evaluate('window.consoleState.errors')).toEqual([]);

    await page.screenshot({ path: path.join(SCREENSHOTS, 'console-1280.png'), fullPage: true });
    await page.setViewportSize({ width: 390, height: 844 });
    await waitFor(async () => Number(await page.evaluate('document.documentElement.scrollWidth')) <= 390, 5_000, 'no horizontal scrolling at 390 px');
    await page.screenshot({ path: path.join(SCREENSHOTS, 'console-390.png'), fullPage: true });
    await page.setViewportSize({ width: 1280, height: 900 });

    // Keyboard: the confirmation is a modal dialog; Escape cancels and focus returns to the button.
    const shedButton = row.locator('button[data-action="shed"]');
    await shedButton.focus();
    await page.keyboard.press('Enter');
    await waitFor(async () => (await page.locator('#confirm[open]').count()) === 1, 5_000, 'the dialog opened by keyboard');
    expect(await page.evaluate('document.activeElement.id')).toBe('confirm-cancel');
    await page.keyboard.press('Escape');
    await waitFor(async () => (await page.locator('#confirm[open]').count()) === 0, 5_000, 'the dialog closed by Escape');
    expect(await page.evaluate('document.activeElement.dataset.action')).toBe('shed');
    expect(await text(page, '#action-result')).toContain('cancelled');

    // Refused without a token, with a wrong one, and with a member (non-admin) credential.
    expect(await shed(page, `live/${name}`)).toMatch(/refused: 401 UNAUTHORIZED/);
    await page.locator('#token').fill('not-a-token');
    await page.locator('#token-form button[type="submit"]').click();
    expect(await shed(page, `live/${name}`)).toMatch(/refused: 401 UNAUTHORIZED/);
    await page.locator('#token').fill(memberCredential(cluster.clusterSecret, 'origin', 'origin-1'));
    await page.locator('#token-form button[type="submit"]').click();
    expect(await shed(page, `live/${name}`)).toMatch(/refused: 403 FORBIDDEN/);
    expect(await page.locator('#toast').getAttribute('class')).toContain('error');
    expect(publisher.running).toBe(true);
    expect(await ownerOf(cluster, name)).toBe('origin-1');

    // With the admin token: the shed is done and the publisher is cut (it does not re-publish by itself).
    await page.locator('#token').fill(cluster.adminAuth.replace(/^Bearer /, ''));
    await page.locator('#token-form button[type="submit"]').click();
    expect(await page.evaluate("sessionStorage.getItem('cascade.adminToken')")).toBe(cluster.adminAuth.replace(/^Bearer /, ''));
    expect(page.url()).not.toContain('token');
    expect(await shed(page, `live/${name}`)).toMatch(/^Shed live\/\w+: done by origin-1\./);
    expect(await page.locator('#toast').getAttribute('class')).toContain('ok');
    await waitFor(() => !publisher.running, 15_000, 'the publisher cut by the shed');
    await waitFor(async () => (await page.locator(`#events li[data-type="stream.released"]`).filter({ hasText: `live/${name}` }).count()) >= 1, 15_000, 'the release in the event log');

    // Drain origin-2 from the console: it turns draining, then (nothing to move) exits and goes down.
    await page.locator('#origins tr[data-origin="origin-2"] button[data-action="drain"]').click();
    await page.locator('#confirm-ok').click();
    await waitFor(async () => (await text(page, '#action-result')).startsWith('Drain origin-2: done'), 15_000, 'the drain result');
    await waitFor(async () => (await page.locator('#events li[data-type="origin.draining"]').filter({ hasText: 'origin-2' }).count()) >= 1, 15_000, 'origin.draining in the event log');
    await waitFor(async () => (await page.locator('#events li[data-type="origin.down"]').filter({ hasText: 'origin-2' }).count()) >= 1, 15_000, 'origin.down in the event log');
    await waitFor(async () => ['down', ''].includes(await text(page, '#origins tr[data-origin="origin-2"] td.state')), 15_000, 'origin-2 down (or gone) in the table');

    await page.screenshot({ path: path.join(SCREENSHOTS, 'console-actions-1280.png'), fullPage: true });
    expect(seen.refusals.length).toBeGreaterThanOrEqual(3);
    expect(seen.errors).toEqual([]);
    console.log(`console screenshots: ${SCREENSHOTS}/console-1280.png, console-390.png, console-actions-1280.png`);
  } finally {
    await page.close();
  }
});

test('discovery unreachable: a retrying banner, and the page recovers', async () => {
  const page = await browser.newPage({ viewport: { width: 390, height: 844 } });
  try {
    let down = true;
    await page.route('**/v1/cluster', (route) => (down ? route.abort('connectionrefused') : route.continue()));
    await page.goto(`${cluster.discoveryUrl}/`);
    await waitFor(async () => await page.locator('#banner').isVisible(), 10_000, 'the unreachable banner');
    expect(await text(page, '#banner')).toMatch(/Discovery unreachable .*retrying every 2 s/);
    expect(await text(page, '#status')).toBe('unreachable');
    await page.screenshot({ path: path.join(SCREENSHOTS, 'console-unreachable-390.png'), fullPage: true });
    down = false;
    await waitFor(async () => !(await page.locator('#banner').isVisible()), 10_000, 'the banner gone once discovery answers');
    await waitFor(async () => (await page.locator('#origins tr').count()) === 2, 10_000, 'the origins back');
  } finally {
    await page.close();
  }
});

test('hostile or malformed cluster answers are shown as text, never run, and never break the page', async () => {
  const page = await browser.newPage({ viewport: { width: 390, height: 844 } });
  const seen = watchErrors(page);
  const answers: unknown[] = [
    {
      generatedAt: Date.now(),
      origins: [{ id: '<img src=x id=pwn1>', status: '<b id=pwn2>', utilisation: 'lots', load: null }, { nope: true }, null],
      edges: [{ id: 'edge"><i id=pwn3>', state: 42, updatedAt: 'yesterday', load: { viewers: -1, egressBps: 1e300 } }],
      streams: [
        { app: 'live', name: '<svg onload=alert(1) id=pwn4>', owner: { id: '<u id=pwn5>' }, media: { video: { codec: '<script>x</script>', width: 'w', height: null, fps: 'fast' }, audio: {} }, viewers: { total: 'many', byEdge: [{ edge: '<i id=pwn6>', rtmp: 1 }, 7] } },
        { app: 'live', name: 'x', owner: null, viewers: null },
        { name: 'no app' },
      ],
      totals: 'none',
    },
    [],
    null,
  ];
  let n = 0;
  await page.route('**/v1/cluster', (route) => route.fulfill({ json: answers[Math.min(n++, answers.length - 1)] }));
  try {
    await page.goto(`${cluster.discoveryUrl}/`);
    await waitFor(async () => (await page.locator('#streams tr').count()) === 2, 10_000, 'the hostile rows, as text');
    expect(await text(page, '#streams tr:first-child td.stream')).toContain('<svg onload=alert(1) id=pwn4>');
    expect(await text(page, '#origins tr:first-child td.id')).toBe('<img src=x id=pwn1>');
    expect(await page.locator('[id^="pwn"]').count()).toBe(0);
    // the next answers are not objects: the banner says so, the page keeps the last good figures
    await waitFor(async () => (await text(page, '#banner')).includes('unexpected answer'), 10_000, 'the banner for a malformed answer');
    expect(await page.locator('#streams tr').count()).toBe(2);
    expect(seen.errors).toEqual([]);
  } finally {
    await page.close();
  }
});

test('protectReads: the console asks for a token, then reads and follows events with it', async () => {
  const readToken = randomBytes(24).toString('hex');
  const guarded = await startCluster({ origins: 1, discoveryFlags: ['--protect-reads', '--read-tokens', readToken] });
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  try {
    await page.goto(`${guarded.discoveryUrl}/`);
    await waitFor(async () => (await text(page, '#banner')).includes('protects reads'), 10_000, 'the protected-reads banner');
    await page.locator('#token').fill(readToken);
    await page.locator('#token-form button[type="submit"]').click();
    await waitFor(async () => (await page.locator('#origins tr[data-origin="origin-1"]').count()) === 1, 10_000, 'the origin, read with the token');
    expect(await page.locator('#banner').isVisible()).toBe(false);
    await waitFor(async () => (await text(page, '#status')) === 'live', 10_000, 'the event stream open with the token');
    await guarded.origins[0].proc.stop();
    await waitFor(async () => (await page.locator('#events li[data-type="origin.down"]').filter({ hasText: 'origin-1' }).count()) >= 1, 20_000, 'origin.down through the token-authenticated event stream');
    await guarded.restartOrigin(0);
    await waitFor(async () => (await page.locator('#events li[data-type="origin.up"]').filter({ hasText: 'origin-1' }).count()) >= 1, 20_000, 'origin.up after the restart');
  } finally {
    await page.close();
    await guarded.stop();
  }
});
