import { Type } from '@sinclair/typebox';

/** HLS settings shared by the origin and edge config schemas. */
export const HlsConfigFields = {
  hlsTargetDurationMs: Type.Integer({ default: 2000, minimum: 500, maximum: 30000, description: 'HLS segment target duration (cut on the next keyframe after it).' }),
  hlsWindow: Type.Integer({ default: 6, minimum: 2, maximum: 60, description: 'Segments listed in the live playlist.' }),
  hlsPlaylistWaitMs: Type.Integer({ default: 8000, minimum: 0, description: 'How long the first playlist request of a cold stream waits for its first segment.' }),
  cdnSecret: Type.String({ default: '', description: 'When set, HLS requests need `Authorization: Bearer <secret>` (for deployments behind a CDN).' }),
};
