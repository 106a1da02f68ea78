/**
 * Stream names (`app` and `name`): one rule at every entry point (RTMP, HTTP-FLV, HLS, discovery,
 * the sign CLI), so a name accepted in one place is accepted everywhere and never needs escaping.
 */

export const STREAM_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

export function isValidStreamPart(s: unknown): s is string {
  return typeof s === 'string' && STREAM_NAME_PATTERN.test(s) && !s.includes('..');
}

/** SRS edges ask for `NAME.flv` when serving HTTP-FLV; origins treat it as `NAME` (docs/design.md section 2). */
export function canonicalStreamName(name: string): string {
  return name.endsWith('.flv') ? name.slice(0, -4) : name;
}
