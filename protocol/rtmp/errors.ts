import type { AmfObject } from '../amf0';

/** Stable codes of the errors raised by the RTMP codecs and client. */
export type RtmpErrorCode =
  | 'RTMP_CHUNK_STREAM'
  | 'RTMP_HANDSHAKE'
  | 'RTMP_MESSAGE'
  | 'RTMP_URL'
  | 'RTMP_COMMAND'
  | 'RTMP_STATUS'
  | 'RTMP_STREAM_NOT_FOUND'
  | 'RTMP_REDIRECT'
  | 'RTMP_REDIRECT_LOOP'
  | 'RTMP_REDIRECT_REFUSED'
  | 'RTMP_TOO_MANY_REDIRECTS'
  | 'RTMP_TIMEOUT'
  | 'RTMP_CLOSED'
  | 'RTMP_STATE';

export class RtmpError extends Error {
  readonly code: RtmpErrorCode;
  constructor(code: RtmpErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RtmpError';
    this.code = code;
  }
}

/** The chunk stream violates RTMP 1.0 section 5.3 or a configured limit; the connection is unusable. */
export class ChunkStreamError extends RtmpError {
  constructor(message: string) {
    super('RTMP_CHUNK_STREAM', message);
    this.name = 'ChunkStreamError';
  }
}

export class HandshakeError extends RtmpError {
  constructor(message: string) {
    super('RTMP_HANDSHAKE', message);
    this.name = 'HandshakeError';
  }
}

/** A message body does not have the layout its type requires (command, control, aggregate). */
export class RtmpMessageError extends RtmpError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('RTMP_MESSAGE', message, options);
    this.name = 'RtmpMessageError';
  }
}

export class RtmpUrlError extends RtmpError {
  constructor(url: string, reason: string) {
    super('RTMP_URL', `invalid RTMP URL ${JSON.stringify(url)}: ${reason}`);
    this.name = 'RtmpUrlError';
  }
}

/** The peer answered a command (connect, createStream) with `_error`. */
export class RtmpCommandError extends RtmpError {
  readonly command: string;
  readonly info: AmfObject;
  constructor(command: string, info: AmfObject) {
    super('RTMP_COMMAND', `${command} failed: ${describeInfo(info)}`);
    this.name = 'RtmpCommandError';
    this.command = command;
    this.info = info;
  }
}

/** An error-level onStatus answered play or publish (BadName, Rejected, Unauthorized, ...). */
export class RtmpStatusError extends RtmpError {
  readonly info: AmfObject;
  constructor(info: AmfObject, code: RtmpErrorCode = 'RTMP_STATUS') {
    super(code, `status ${describeInfo(info)}`);
    this.name = 'RtmpStatusError';
    this.info = info;
  }
}

export class StreamNotFoundRtmpError extends RtmpStatusError {
  constructor(info: AmfObject) {
    super(info, 'RTMP_STREAM_NOT_FOUND');
    this.name = 'StreamNotFoundRtmpError';
  }
}

/** The peer answered with an RTMP 302 (docs/design.md section 2) instead of starting the stream. */
export class RtmpRedirectError extends RtmpStatusError {
  readonly redirect: RtmpRedirect;
  constructor(info: AmfObject, redirect: RtmpRedirect) {
    super(info, 'RTMP_REDIRECT');
    this.name = 'RtmpRedirectError';
    this.redirect = redirect;
  }
}

export class RtmpTimeoutError extends RtmpError {
  constructor(what: string, ms: number) {
    super('RTMP_TIMEOUT', `${what} timed out after ${ms} ms`);
    this.name = 'RtmpTimeoutError';
  }
}

export class RtmpClosedError extends RtmpError {
  constructor(what: string, cause?: Error) {
    super('RTMP_CLOSED', `connection closed during ${what}${cause ? `: ${cause.message}` : ''}`, { cause });
    this.name = 'RtmpClosedError';
  }
}

/** An operation was called in the wrong state (play before connect, sendMedia before publish). */
export class RtmpStateError extends RtmpError {
  constructor(message: string) {
    super('RTMP_STATE', message);
    this.name = 'RtmpStateError';
  }
}

/** The `ex` part of an SRS-style 302 status (docs/design.md section 2). */
export interface RtmpRedirect {
  redirect?: string;
  redirect2?: string;
  code: number;
}

function describeInfo(info: AmfObject): string {
  const code = typeof info.code === 'string' ? info.code : 'unknown code';
  const description = typeof info.description === 'string' ? ` (${info.description})` : '';
  return `${code}${description}`;
}
