#!/usr/bin/env node
/**
 * Prints a signed publish / play URL (origin/signed-url.ts):
 *   node dist/bin/sign.js live/NAME --ttl 3600 [--secret-env CASCADE_PUBLISH_SECRET] [--base rtmp://host:port]
 */
import { runSign } from '../origin/sign-cli';

const result = runSign(process.argv.slice(2), process.env);
process.stdout.write(result.stdout);
process.stderr.write(result.stderr);
process.exitCode = result.code;
