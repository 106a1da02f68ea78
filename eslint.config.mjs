import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'bench/node_modules/', 'bench/results/', 'coverage/', '**/*.js', '**/*.mjs', '!discovery/console/*.js'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    // Ambient declarations of CommonJS `export =` modules: `import X = require()` is the TypeScript form.
    files: ['types/**/*.d.ts'],
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    // The web console's browser script (plain JavaScript, served as is): browser globals, no TS rules.
    files: ['discovery/console/*.js'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: {
      sourceType: 'script',
      globals: Object.fromEntries(
        ['window', 'document', 'fetch', 'sessionStorage', 'EventSource', 'AbortSignal', 'ResizeObserver', 'Node', 'AbortController', 'TextDecoderStream', 'setTimeout', 'clearTimeout', 'console'].map((g) => [g, 'readonly']),
      ),
    },
    rules: { '@typescript-eslint/no-require-imports': 'off', strict: ['error', 'global'] },
  },
  {
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      'no-constant-condition': ['error', { checkLoops: false }],
    },
  },
);
