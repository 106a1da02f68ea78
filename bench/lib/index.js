'use strict';
/**
 * The load tool's public surface (what test/integration/bench-smoke.test.ts uses). Everything here
 * needs only Node and the root project's dist/ — no bench/node_modules.
 */
const { Publisher, loopFileArgs, liveEncodeArgs } = require('./publisher');
const { PlayerPool, createPlayer, streamKey } = require('./players');
const { summarize } = require('./stats');
const { ProcSampler, readProc } = require('./procstat');
const { encodeAmfMark, decodeAmfMark, withSeiMark, decodeSeiMark } = require('./marks');
const { FlvTagStream } = require('./flv-stream');
const { percentile, freePort, nowMs } = require('./util');
const { HeartbeatFleet, SimOrigin, LegacyOrigin, LookupProbe } = require('./control-plane');

module.exports = {
  Publisher,
  loopFileArgs,
  liveEncodeArgs,
  PlayerPool,
  createPlayer,
  streamKey,
  summarize,
  ProcSampler,
  readProc,
  encodeAmfMark,
  decodeAmfMark,
  withSeiMark,
  decodeSeiMark,
  FlvTagStream,
  HeartbeatFleet,
  SimOrigin,
  LegacyOrigin,
  LookupProbe,
  percentile,
  freePort,
  nowMs,
};
