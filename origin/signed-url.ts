/** Moved to common/signed-url.ts (edges verify play signatures too); kept for existing imports. */
export * from '../common/signed-url';
