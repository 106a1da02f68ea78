import { Type } from '@sinclair/typebox';

/** HLS settings shared by the origin and edge config schemas. */
export const HlsConfigFields = {
  hlsTargetDurationMs: Type.Integer({ default: 2000, minimum: 500, maximum: 30000, description: 'HLS segment target duration (cut on the next keyframe after it).' }),
  hlsWindow: Type.Integer({ default: 6, minimum: 2, maximum: 60, description: 'Segments listed in the live playlist.' }),
  hlsPlaylistWaitMs: Type.Integer({ default: 8000, minimum: 0, description: 'How long the first playlist request of a cold stream waits for its first segment.' }),
  hlsPartTargetMs: Type.Integer({
    default: 350,
    minimum: 0,
    maximum: 500,
    description: 'Low-Latency HLS PART-TARGET in ms: parts are cut at most this long and before every keyframe, on the same playlist URL (docs/hls.md). 0: regular HLS only. Use at least two frame intervals.',
  }),
  hlsMaxBlockedPerStream: Type.Integer({
    default: 1000,
    minimum: 1,
    description: 'LL-HLS requests (blocking playlist reloads and parts not yet written) waiting at once on one stream; beyond: 503 HLS_TOO_MANY_BLOCKED. A player holds about two.',
  }),
  hlsMaxBlocked: Type.Integer({
    default: 5000,
    minimum: 1,
    description: 'LL-HLS requests waiting at once in this process, all streams together; beyond: 503 HLS_TOO_MANY_BLOCKED.',
  }),
  cdnSecret: Type.String({ default: '', description: 'When set, HLS requests need `Authorization: Bearer <secret>` (for deployments behind a CDN).' }),
};
