/** A response body as undici (and Node streams) give it: chunks, and a way to stop reading. */
export interface ReadableBody extends AsyncIterable<Buffer | Uint8Array | string> {
  destroy(): unknown;
  on(event: 'error', listener: () => void): unknown;
}

/**
 * Reads a response body as UTF-8 text, at most `maxBytes` of it (docs/hardening.md: nothing a peer
 * sends is buffered without a bound). A longer body is abandoned at once (destroyed, its late errors
 * ignored) and the answer is null: callers decide whether too long is an error or "no usable answer".
 */
export async function readBoundedText(body: ReadableBody, maxBytes: number): Promise<string | null> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    size += buf.length;
    if (size > maxBytes) {
      body.on('error', () => undefined);
      body.destroy();
      return null;
    }
    chunks.push(buf);
  }
  return Buffer.concat(chunks).toString('utf8');
}
