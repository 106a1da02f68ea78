/**
 * Enhanced RTMP `fourCcList` negotiation (E-RTMP v1 "Enhancing NetConnection connect Command";
 * v2 adds the server's answer): a client lists, in its `connect` command object, the FourCCs it
 * can send or receive (a strict array of strings; "*" means any). The server answers in the
 * `_result`'s properties with the FourCCs it supports among them.
 */
import type { AmfValue } from '../amf0';
import { KNOWN_FOURCCS } from '../media-tag';

/** More entries than this are not a codec list (the spec names a dozen FourCCs). */
const MAX_ENTRIES = 64;

/**
 * The client's `fourCcList`, or null when it sent none (or something that is not a strict array
 * of strings). Entries that are not 4 characters (or "*") are dropped.
 */
export function parseFourCcList(value: AmfValue | undefined): string[] | null {
  if (!Array.isArray(value) || value.length > MAX_ENTRIES) return null;
  const out: string[] = [];
  for (const v of value) if (typeof v === 'string' && (v === '*' || v.length === 4) && !out.includes(v)) out.push(v);
  return out;
}

/**
 * What the server announces back: the FourCCs of the client's list that pass through here (every
 * FourCC of `media-tag.ts`, video and audio); "*" asks for all of them. Order follows the client.
 */
export function answerFourCcList(asked: readonly string[], supported: readonly string[] = KNOWN_FOURCCS): string[] {
  if (asked.includes('*')) return [...supported];
  return asked.filter((f) => supported.includes(f));
}
