import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'coverage/', '.data/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': 'off',
    },
  },
  {
    // Bundled bots run in Medplum's vmcontext sandbox, which has none of these Node globals
    // (docs/design.md, "Runtime contract"); importing them from node:… makes the bundle require them instead.
    files: ['src/**', 'bots/**'],
    rules: {
      'no-restricted-globals': [
        'error',
        ...[
          ['Buffer', 'node:buffer'],
          ['process', 'node:process'],
          ['setTimeout', 'node:timers/promises or node:timers'],
          ['setInterval', 'node:timers'],
          ['setImmediate', 'node:timers'],
          ['clearTimeout', 'node:timers'],
          ['clearInterval', 'node:timers'],
          ['Headers', undefined],
        ].map(([name, from]) => ({
          name,
          message: from
            ? `not in Medplum's vmcontext sandbox: import it from node:… explicitly (${from}).`
            : "not in Medplum's vmcontext sandbox, and no node:… module exports it: use a plain object.",
        })),
      ],
    },
  },
  prettier
);
