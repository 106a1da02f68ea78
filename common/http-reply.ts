import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * Answers on raw node:http responses (the HTTP-FLV paths answer before fastify or node-media-server
 * sees the request). Shared by origins and edges; loads nothing but node:http types.
 */

/** A JSON answer with its length; `headers` are added (CORS, Retry-After, Connection). */
export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

/** Whether a request announces a body (Content-Length > 0 or a Transfer-Encoding). */
export function hasRequestBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return (length !== undefined && length !== '0') || req.headers['transfer-encoding'] !== undefined;
}
