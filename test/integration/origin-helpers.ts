/**
 * Helpers of the origin integration tests (origin-*.test.ts): services on free ports, a raw RTMP
 * publisher that reports the statuses it got, a webhook receiver, the sign CLI.
 */
import { spawn } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { AmfObject } from '../../protocol/amf0';
import { RtmpClient } from '../../protocol/rtmp/client';
import { freePort } from '../helpers/wait';
import { startService, waitFor, type TestProcess } from '../helpers/processes';

export interface Node {
  proc: TestProcess;
  rtmp: string;
  http: string;
}

export async function startDiscovery(): Promise<{ proc: TestProcess; url: string }> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  return { proc: await startService('discovery', ['--port', String(port)], `${url}/healthz`), url };
}

export async function startOrigin(discoveryUrl: string, id: string, flags: string[] = []): Promise<Node> {
  const [rp, hp] = [await freePort(), await freePort()];
  const proc = await startService(
    'origin',
    ['--id', id, '--rtmp-port', String(rp), '--http-port', String(hp), '--discovery-url', discoveryUrl, '--heartbeat-ms', '500', ...flags],
    `http://127.0.0.1:${hp}/healthz`,
    id,
  );
  return { proc, rtmp: `rtmp://127.0.0.1:${rp}`, http: `http://127.0.0.1:${hp}` };
}

export async function startEdge(discoveryUrl: string, origins: string[], flags: string[] = [], env: Record<string, string> = {}, name = 'edge-1'): Promise<Node> {
  const [rp, hp] = [await freePort(), await freePort()];
  const proc = await startService(
    'edge',
    ['--rtmp-port', String(rp), '--http-port', String(hp), '--origins', origins.join(','), '--discovery-url', discoveryUrl, ...flags],
    `http://127.0.0.1:${hp}/healthz`,
    name,
    env,
  );
  return { proc, rtmp: `rtmp://127.0.0.1:${rp}`, http: `http://127.0.0.1:${hp}` };
}

export { ownerOf } from '../helpers/wait';

export interface RawPublish {
  client: RtmpClient;
  statuses: AmfObject[];
  closed: boolean;
  /** Date.now() when the origin closed the connection (0 while open). */
  closedAt: number;
  codes(): string[];
}

/**
 * connect + publish with our RTMP client, recording every onStatus (NMS sends Publish.Start before
 * any check, so a refusal is the error status that follows). Resolves after `settleMs`, or earlier
 * when the origin closes the connection.
 */
export async function rawPublish(rtmpBase: string, app: string, nameWithQuery: string, settleMs = 1500): Promise<RawPublish> {
  const client = await RtmpClient.connect(`${rtmpBase}/${app}`, { timeoutMs: 5000 });
  const r: RawPublish = { client, statuses: [], closed: false, closedAt: 0, codes: () => r.statuses.map((s) => String(s.code)) };
  client.on('status', (info) => r.statuses.push(info));
  client.on('close', () => {
    r.closed = true;
    r.closedAt = Date.now();
  });
  await client.publish(nameWithQuery).catch(() => undefined);
  await waitFor(() => r.closed, settleMs, 'close').catch(() => undefined);
  return r;
}

/** `node dist/bin/sign.js ...` (the CLI the lead wires as `npm run sign`). */
export function signCli(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [path.resolve(__dirname, '..', '..', 'dist', 'bin', 'sign.js'), ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

export interface HookCall {
  action: string;
  body: Record<string, unknown>;
  raw: string;
  signature?: string;
  /** X-Cascade-Timestamp. */
  timestamp?: string;
  at: number;
  /** The origin closed the request before it was answered (dropped, timed out). */
  abandoned: boolean;
}

/** `padBytes`: that many spaces after `body`; `hold`: no answer until `releaseHeld()`. */
export type HookAnswer = { status?: number; body?: string; delayMs?: number; padBytes?: number; hold?: boolean };

/** A webhook receiver: `${url}/<action>`; records calls, answers with `answer(call, nth call for that stream+action)`. */
export class HookRecorder {
  readonly calls: HookCall[] = [];
  answer: (call: HookCall, n: number) => HookAnswer = () => ({ body: '0' });
  url = '';
  private held: Array<() => void> = [];
  private readonly server = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (d: Buffer) => (raw += d.toString()));
    req.on('end', () => {
      let body: Record<string, unknown> = {};
      try {
        body = JSON.parse(raw) as Record<string, unknown>;
      } catch {
        // recorded as {}
      }
      const call: HookCall = {
        action: (req.url ?? '').slice(1),
        body,
        raw,
        signature: req.headers['x-cascade-signature'] as string | undefined,
        timestamp: req.headers['x-cascade-timestamp'] as string | undefined,
        at: Date.now(),
        abandoned: false,
      };
      this.calls.push(call);
      res.on('close', () => (call.abandoned = !res.writableFinished));
      const n = this.calls.filter((c) => c.action === call.action && c.body.stream === body.stream).length;
      const a = this.answer(call, n);
      const send = (): void => {
        if (res.destroyed) return;
        res.writeHead(a.status ?? 200, { 'content-type': 'application/json' });
        res.end(`${a.body ?? '0'}${' '.repeat(a.padBytes ?? 0)}`);
      };
      if (a.hold) {
        this.held.push(send);
        return;
      }
      const timer = setTimeout(send, a.delayMs ?? 0);
      res.on('close', () => clearTimeout(timer));
    });
  });

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** Answers every held call now (with its answer). */
  releaseHeld(): void {
    const held = this.held;
    this.held = [];
    for (const send of held) send();
  }

  of(action: string, stream: string): HookCall[] {
    return this.calls.filter((c) => c.action === action && c.body.stream === stream);
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

/** `# TYPE name type` lines of a Prometheus text exposition. */
export function metricTypes(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) out.set(m[1], m[2]);
  return out;
}

export function metricValue(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}
