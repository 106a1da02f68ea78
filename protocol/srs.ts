/**
 * SRS vocabulary on the wire: SRS's HTTP API (`/api/v1/clusters`, `/api/v1/streams`) and its HTTP
 * callbacks name the vhost of every stream; streams without a vhost belong to this one
 * (SRS `SRS_CONSTS_RTMP_DEFAULT_VHOST`, docs/design.md section 3).
 */
export const SRS_DEFAULT_VHOST = '__defaultVhost__';
