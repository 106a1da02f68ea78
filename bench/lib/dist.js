'use strict';
/**
 * The product's compiled modules (../dist after `npm run build` at the repo root). The load tool reuses
 * our RTMP client, the 302-following play and the AMF0 codec instead of carrying its own copies.
 */
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..', '..');
const DIST = path.join(ROOT, 'dist');
const ENTRY = path.join(DIST, 'bin', 'cascade.js');

/** @returns {boolean} whether the root project has been built. */
function isBuilt() {
  return fs.existsSync(ENTRY) && fs.existsSync(path.join(DIST, 'protocol', 'rtmp', 'client.js'));
}

/** @param {string} rel path under dist/ without extension */
function load(rel) {
  const file = path.join(DIST, rel);
  try {
    return require(file);
  } catch (err) {
    if (!isBuilt()) throw new Error(`${file} is missing: run \`npm run build\` at ${ROOT} first (npm run bench does it for you)`);
    throw err;
  }
}

module.exports = {
  ROOT,
  DIST,
  ENTRY,
  isBuilt,
  /** Any compiled module of the product, e.g. load('common/cluster-credentials'). */
  load,
  /** @returns {typeof import('../../protocol/rtmp/client')} */
  rtmpClient: () => load('protocol/rtmp/client'),
  /** @returns {typeof import('../../protocol/redirect')} */
  redirect: () => load('protocol/redirect'),
  /** @returns {typeof import('../../protocol/rtmp/url')} */
  rtmpUrl: () => load('protocol/rtmp/url'),
  /** @returns {typeof import('../../protocol/amf0')} */
  amf0: () => load('protocol/amf0'),
  /** @returns {typeof import('../../discovery/client')} */
  discoveryClient: () => load('discovery/client'),
};
