/**
 * Server-Sent Events wire format (WHATWG HTML, "Server-sent events", 9.2.5 / 9.2.6): what the
 * discovery event stream (`GET /v1/events`, discovery/sse.ts) writes and what its client
 * (discovery/client.ts) reads. Pure text in, text out.
 */

export interface SseMessage {
  /** The `event:` field; "message" when the frame had none. */
  event: string;
  /** The `data:` lines joined with "\n". */
  data: string;
}

/** One frame: `event: <event>` and one `data:` line of JSON (JSON.stringify never emits raw newlines). */
export function sseMessage(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

/**
 * Incremental parser of a `text/event-stream` (WHATWG HTML "server-sent events"): feed text chunks,
 * get `{event, data}` messages (comments and `retry`/`id` lines are skipped).
 */
export class SseParser {
  private buffer = '';
  private event = '';
  private data: string[] = [];

  push(chunk: string): SseMessage[] {
    this.buffer += chunk;
    const out: SseMessage[] = [];
    for (;;) {
      const m = /\r\n|\r|\n/.exec(this.buffer);
      if (!m) break;
      // A lone \r at the very end may be the first half of \r\n: wait for more.
      if (m[0] === '\r' && m.index === this.buffer.length - 1) break;
      const line = this.buffer.slice(0, m.index);
      this.buffer = this.buffer.slice(m.index + m[0].length);
      if (line === '') {
        if (this.data.length > 0) out.push({ event: this.event || 'message', data: this.data.join('\n') });
        this.event = '';
        this.data = [];
        continue;
      }
      if (line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? '' : line.slice(colon + 1);
      if (value.startsWith(' ')) value = value.slice(1);
      if (field === 'event') this.event = value;
      else if (field === 'data') this.data.push(value);
    }
    if (this.buffer.length > 1024 * 1024) this.buffer = ''; // a line this long is not ours: drop it
    return out;
  }
}
