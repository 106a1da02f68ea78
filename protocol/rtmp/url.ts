/**
 * RTMP URLs: `rtmp://host[:port]/app[/stream][?query]`. The app is the first path segment, the
 * stream name is the rest of the path (RTMP stream names may contain `/`), the query belongs to
 * the stream name (it is sent with play / publish, e.g. auth tokens).
 */
import { RtmpUrlError } from './errors';

export const DEFAULT_RTMP_PORT = 1935;

export interface RtmpUrl {
  host: string;
  port: number;
  app: string;
  /** Stream name without the query; '' when the URL names only the app. */
  stream: string;
  /** Query without the leading '?'; '' when none. */
  query: string;
  /** `rtmp://host:port/app`, as sent in the connect command. */
  tcUrl: string;
  /** `stream?query`, as sent in play / publish. */
  streamWithQuery: string;
}

export function parseRtmpUrl(url: string): RtmpUrl {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new RtmpUrlError(url, 'not a URL');
  }
  if (parsed.protocol !== 'rtmp:') throw new RtmpUrlError(url, `scheme ${parsed.protocol} is not rtmp:`);
  if (parsed.hostname === '') throw new RtmpUrlError(url, 'no host');
  const port = parsed.port === '' ? DEFAULT_RTMP_PORT : Number(parsed.port);
  if (port === 0) throw new RtmpUrlError(url, 'port 0');
  const path = parsed.pathname.replace(/^\/+/, '');
  const slash = path.indexOf('/');
  const app = slash < 0 ? path : path.slice(0, slash);
  const stream = slash < 0 ? '' : path.slice(slash + 1);
  if (app === '') throw new RtmpUrlError(url, 'no app');
  const query = parsed.search.replace(/^\?/, '');
  const host = parsed.hostname;
  return {
    host,
    port,
    app,
    stream,
    query,
    tcUrl: `rtmp://${host}:${port}/${app}`,
    streamWithQuery: query === '' ? stream : `${stream}?${query}`,
  };
}

export function formatRtmpUrl(u: Pick<RtmpUrl, 'host' | 'port' | 'app' | 'stream' | 'query'>): string {
  const stream = u.stream === '' ? '' : `/${u.stream}`;
  const query = u.query === '' ? '' : `?${u.query}`;
  return `rtmp://${u.host}:${u.port}/${u.app}${stream}${query}`;
}

/**
 * The same URL with the port written out and the host in lower case, so `rtmp://H/a` and
 * `rtmp://h:1935/a` compare equal.
 */
export function normalizeRtmpUrl(url: string): string {
  const u = parseRtmpUrl(url);
  return formatRtmpUrl({ ...u, host: u.host.toLowerCase() });
}

/** The host as `net.connect` wants it (IPv6 literals without brackets). */
export function socketHost(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}
