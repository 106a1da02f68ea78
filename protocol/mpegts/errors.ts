/** Named errors with stable codes for malformed media. The muxer catches them and counts drops. */
export type MediaFormatErrorCode =
  | 'AVC_CONFIG_INVALID'
  | 'AVC_NALU_TRUNCATED'
  | 'HEVC_CONFIG_INVALID'
  | 'AAC_CONFIG_INVALID'
  | 'AAC_CONFIG_UNSUPPORTED'
  | 'AAC_FRAME_TOO_LARGE'
  | 'FLV_TAG_TRUNCATED'
  | 'TIMESTAMP_INVALID';

export class MediaFormatError extends Error {
  readonly code: MediaFormatErrorCode;
  constructor(code: MediaFormatErrorCode, message: string) {
    super(message);
    this.name = 'MediaFormatError';
    this.code = code;
  }
}
