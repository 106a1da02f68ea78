/**
 * Waiting in tests: on a condition, polled, never a fixed sleep (a loaded box makes every fixed
 * sleep either too short or wasteful). One place for what used to be written in several files.
 */
import net from 'node:net';

/**
 * Polls `fn` until it returns something other than `undefined` or `false`, and resolves with it.
 * Throws `timed out after N ms waiting for <what>` when `timeoutMs` passes first.
 */
export async function until<T>(what: string, fn: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 5000, everyMs = 20): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** `until` for a yes/no check, in the argument order the process helpers always used. */
export async function waitFor(check: () => Promise<boolean> | boolean, timeoutMs: number, what: string, everyMs = 100): Promise<void> {
  await until(what, check, timeoutMs, everyMs);
}

/** Ports handed out by this process (so two servers started back to back never get the same one). */
const handedOut = new Set<number>();

/** A TCP port on 127.0.0.1 that was free a moment ago and that this process has not handed out before. */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const server = net.createServer();
      server.unref();
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        const address = server.address();
        const p = typeof address === 'object' && address !== null ? address.port : 0;
        server.close(() => (p > 0 ? resolve(p) : reject(new Error('no port assigned'))));
      });
    });
    if (!handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
}

/** The id of the origin discovery says owns app/name, or null (`GET /v1/streams/:app/:name`). */
export async function ownerOf(discoveryUrl: string, app: string, name: string): Promise<string | null> {
  const res = await fetch(`${discoveryUrl}/v1/streams/${app}/${name}`);
  return res.status === 200 ? ((await res.json()) as { origin: { id: string } }).origin.id : null;
}

/**
 * Checks that something stays true for a whole window (no flapping, nothing crashes): polls `check`
 * for `ms` and throws at the first poll where it is false. The time passing is the point here, but
 * a failure is reported the moment it happens, with what was being held.
 */
export async function holdsFor(what: string, check: () => boolean | Promise<boolean>, ms: number, everyMs = 100): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    if (!(await check())) throw new Error(`${what} stopped holding after ${ms - Math.max(0, end - Date.now())} ms of ${ms}`);
    if (Date.now() >= end) return;
    await new Promise((r) => setTimeout(r, Math.min(everyMs, Math.max(1, end - Date.now()))));
  }
}
