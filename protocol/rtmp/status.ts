/**
 * NetConnection / NetStream status info objects (RTMP 1.0 sections 7.2.1.1, 7.2.2) and the SRS
 * RTMP 302 redirect carried in them (docs/design.md section 2, **contract**).
 */
import { isAmfObject, newAmfObject, type AmfObject, type AmfValue } from '../amf0';
import type { RtmpRedirect } from './errors';

export const StatusCode = {
  ConnectSuccess: 'NetConnection.Connect.Success',
  ConnectRejected: 'NetConnection.Connect.Rejected',
  PlayReset: 'NetStream.Play.Reset',
  PlayStart: 'NetStream.Play.Start',
  PlayStreamNotFound: 'NetStream.Play.StreamNotFound',
  PlayFailed: 'NetStream.Play.Failed',
  PublishStart: 'NetStream.Publish.Start',
  PublishBadName: 'NetStream.Publish.BadName',
  /** Enhanced RTMP v2 "Reconnect Request" (docs/design.md section 7): move to `info.tcUrl`. */
  ReconnectRequest: 'NetConnection.Connect.ReconnectRequest',
} as const;

export const REDIRECT_STATUS_CODE = 302;

/** The info object of an onStatus / _result / _error; an empty object when the peer sent none. */
export function statusInfo(value: AmfValue): AmfObject {
  return isAmfObject(value) ? value : newAmfObject();
}

export function statusCode(info: AmfObject): string {
  return typeof info.code === 'string' ? info.code : '';
}

export function isErrorLevel(info: AmfObject): boolean {
  return info.level === 'error';
}

/** The redirect in `info.ex` when `info.ex.code === 302`, else undefined. */
export function redirectOf(info: AmfValue): RtmpRedirect | undefined {
  if (!isAmfObject(info)) return undefined;
  const ex = info.ex;
  if (!isAmfObject(ex) || ex.code !== REDIRECT_STATUS_CODE) return undefined;
  const out: RtmpRedirect = { code: REDIRECT_STATUS_CODE };
  if (typeof ex.redirect === 'string') out.redirect = ex.redirect;
  if (typeof ex.redirect2 === 'string') out.redirect2 = ex.redirect2;
  return out;
}
