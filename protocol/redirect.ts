/**
 * Following the SRS RTMP 302 redirect (docs/design.md section 2, **contract**): take
 * `ex.redirect2 || ex.redirect`, keep the stream name when the target names only the app, keep the
 * original query (auth tokens) when the target has none, at most 3 hops, a URL seen before in the
 * chain is a loop.
 */
import { isMetadata } from './flv';
import { RtmpClient, type RtmpConnectOptions } from './rtmp/client';
import { MessageType } from './rtmp/constants';
import {
  RtmpClosedError,
  RtmpCommandError,
  RtmpError,
  RtmpRedirectError,
  RtmpStatusError,
  RtmpTimeoutError,
  RtmpUrlError,
  StreamNotFoundRtmpError,
  type RtmpRedirect,
} from './rtmp/errors';
import type { RtmpMessage } from './rtmp/message';
import { isErrorLevel, redirectOf, StatusCode, statusCode } from './rtmp/status';
import type { AmfObject } from './amf0';
import { formatRtmpUrl, normalizeRtmpUrl, parseRtmpUrl } from './rtmp/url';

export {
  RtmpClosedError,
  RtmpRedirectError,
  RtmpStatusError,
  RtmpTimeoutError,
  StreamNotFoundRtmpError,
} from './rtmp/errors';

export class RedirectLoopError extends RtmpError {
  readonly urls: readonly string[];
  constructor(url: string, urls: readonly string[]) {
    super('RTMP_REDIRECT_LOOP', `redirect loop: ${url} was already visited (${urls.join(' -> ')})`);
    this.name = 'RedirectLoopError';
    this.urls = urls;
  }
}

export class TooManyRedirectsError extends RtmpError {
  readonly urls: readonly string[];
  constructor(maxHops: number, urls: readonly string[]) {
    super('RTMP_TOO_MANY_REDIRECTS', `more than ${maxHops} redirects (${urls.join(' -> ')})`);
    this.name = 'TooManyRedirectsError';
    this.urls = urls;
  }
}

/** A 302 led to a host the caller does not allow (edge `originHosts`): not followed, nothing sent there. */
export class RedirectRefusedError extends RtmpError {
  constructor(readonly host: string) {
    super('RTMP_REDIRECT_REFUSED', `redirect to ${host} refused: the host is not allowed`);
    this.name = 'RedirectRefusedError';
  }
}

export const DEFAULT_MAX_REDIRECT_HOPS = 3;

/**
 * The URL to play next. `redirect2` (full URL) wins over `redirect` (often only `rtmp://h:p/app`);
 * a target without a stream gets the current stream name, one without a query the current query.
 */
export function nextRedirectUrl(current: string, ex: { redirect?: string; redirect2?: string }): string {
  const target = ex.redirect2 || ex.redirect;
  if (!target) throw new RtmpUrlError('', 'redirect without redirect / redirect2');
  const from = parseRtmpUrl(current);
  const to = parseRtmpUrl(target);
  return formatRtmpUrl({
    host: to.host,
    port: to.port,
    app: to.app,
    stream: to.stream === '' ? from.stream : to.stream,
    query: to.query === '' ? from.query : to.query,
  });
}

/** The URLs of one redirect chain; throws on a loop or too many hops. */
export class RedirectChain {
  private readonly visited: string[] = [];
  private readonly seen = new Set<string>();

  constructor(
    startUrl: string,
    private readonly maxHops = DEFAULT_MAX_REDIRECT_HOPS,
  ) {
    this.add(startUrl);
  }

  get hops(): number {
    return this.visited.length - 1;
  }

  get urls(): readonly string[] {
    return this.visited;
  }

  follow(nextUrl: string): void {
    const key = normalizeRtmpUrl(nextUrl);
    if (this.seen.has(key)) throw new RedirectLoopError(nextUrl, [...this.visited, nextUrl]);
    if (this.hops + 1 > this.maxHops) throw new TooManyRedirectsError(this.maxHops, [...this.visited, nextUrl]);
    this.add(nextUrl);
  }

  private add(url: string): void {
    this.seen.add(normalizeRtmpUrl(url));
    this.visited.push(url);
  }
}

export interface PlayWithRedirectsOptions {
  maxHops?: number;
  /** Overall limit across every hop (default 10000 ms). */
  timeoutMs?: number;
  connect?: (url: string, opts?: RtmpConnectOptions) => Promise<RtmpClient>;
  /**
   * Whether a redirect target's host may be contacted (checked before the hop, so nothing, not
   * even the query, is sent to a refused host). Default: any host.
   */
  allowHost?: (host: string) => boolean;
}

export interface PlayWithRedirectsResult {
  client: RtmpClient;
  /** The URL that is playing (after redirects). */
  url: string;
  hops: number;
  /** Media received before this promise resolved, in order (at least one message). */
  firstMessages: RtmpMessage[];
}

const DEFAULT_PLAY_TIMEOUT_MS = 10000;

/**
 * Connects and plays `url`, following RTMP 302 redirects (also one that arrives after
 * `Play.Start`, as node-media-server sends it), until audio, video or metadata arrives on a session
 * that was not redirected. Redirects arriving later are the caller's to handle ('redirect' event).
 * Rejects with StreamNotFoundRtmpError, RedirectLoopError, TooManyRedirectsError, RedirectRefusedError, RtmpTimeoutError,
 * RtmpStatusError, RtmpCommandError or RtmpClosedError.
 */
export async function playWithRedirects(url: string, opts: PlayWithRedirectsOptions = {}): Promise<PlayWithRedirectsResult> {
  const connect = opts.connect ?? ((u: string, o?: RtmpConnectOptions) => RtmpClient.connect(u, o));
  const timeoutMs = opts.timeoutMs ?? DEFAULT_PLAY_TIMEOUT_MS;
  const deadline = Date.now() + timeoutMs;
  const chain = new RedirectChain(url, opts.maxHops ?? DEFAULT_MAX_REDIRECT_HOPS);
  let current = url;
  for (;;) {
    const remaining = deadline - Date.now();
    if (remaining <= 0) throw new RtmpTimeoutError(`playing ${url}`, timeoutMs);
    const outcome = await attemptPlay(current, connect, remaining);
    if (outcome.kind === 'media') {
      return { client: outcome.client, url: current, hops: chain.hops, firstMessages: outcome.firstMessages };
    }
    const next = nextRedirectUrl(current, outcome.redirect);
    const host = parseRtmpUrl(next).host;
    if (opts.allowHost && !opts.allowHost(host)) throw new RedirectRefusedError(host);
    chain.follow(next);
    current = next;
  }
}

type Attempt =
  | { kind: 'media'; client: RtmpClient; firstMessages: RtmpMessage[] }
  | { kind: 'redirect'; redirect: RtmpRedirect };

/** Audio, video or stream metadata: not `|RtmpSampleAccess`, which servers send before checks. */
function isStreamMedia(msg: RtmpMessage): boolean {
  return msg.type === MessageType.Audio || msg.type === MessageType.Video || isMetadata(msg);
}

async function attemptPlay(url: string, connect: NonNullable<PlayWithRedirectsOptions['connect']>, timeoutMs: number): Promise<Attempt> {
  const started = Date.now();
  let client: RtmpClient;
  try {
    client = await connect(url, { timeoutMs });
  } catch (err) {
    // SRS may also redirect in the `_error` answer to connect.
    const redirect = err instanceof RtmpCommandError ? redirectOf(err.info) : undefined;
    if (redirect) return { kind: 'redirect', redirect };
    throw err;
  }
  const c = client;
  const remaining = Math.max(1, timeoutMs - (Date.now() - started));
  return new Promise<Attempt>((resolve, reject) => {
    const firstMessages: RtmpMessage[] = [];
    let settled = false;
    let mediaSeen = false;
    const cleanup = (): void => {
      settled = true;
      clearTimeout(timer);
      c.off('media', onMedia);
      c.off('redirect', onRedirect);
      c.off('close', onClose);
      c.off('status', onStatus);
    };
    const fail = (err: Error): void => {
      if (settled) return;
      cleanup();
      c.close();
      reject(err);
    };
    const onRedirect = (redirect: RtmpRedirect): void => {
      if (settled) return;
      cleanup();
      c.close();
      resolve({ kind: 'redirect', redirect });
    };
    const onMedia = (msg: RtmpMessage): void => {
      firstMessages.push(msg);
      if (mediaSeen || !isStreamMedia(msg)) return;
      mediaSeen = true;
      // A redirect in the same read as the first media still wins: decide after this I/O turn.
      setImmediate(() => {
        if (settled) return;
        cleanup();
        resolve({ kind: 'media', client: c, firstMessages });
      });
    };
    // node-media-server answers Play.Start before its checks, so the verdict may be a later status.
    const onStatus = (info: AmfObject): void => {
      if (redirectOf(info) || !isErrorLevel(info)) return;
      fail(statusCode(info) === StatusCode.PlayStreamNotFound ? new StreamNotFoundRtmpError(info) : new RtmpStatusError(info));
    };
    const onClose = (err?: Error): void => fail(err instanceof RtmpError ? err : new RtmpClosedError(`play of ${url}`, err));
    const timer = setTimeout(() => fail(new RtmpTimeoutError(`playing ${url}`, timeoutMs)), remaining);
    c.on('media', onMedia);
    c.on('redirect', onRedirect);
    c.on('close', onClose);
    c.on('status', onStatus);
    c.play(parseRtmpUrl(url).streamWithQuery).catch((err: unknown) => {
      if (err instanceof RtmpRedirectError) return onRedirect(err.redirect);
      fail(err instanceof Error ? err : new Error(String(err)));
    });
  });
}
