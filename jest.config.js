/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }] },
  testTimeout: 60000,
  moduleNameMapper: { '^cookie$': '<rootDir>/test/shims/cookie.js' },
  // Integration tests spawn real processes; one worker keeps the 2-core box honest.
  maxWorkers: 1,
};
