// Type-aware lint: no floating promises anywhere, and workflow code kept free of I/O so it stays
// deterministic inside Temporal's sandbox.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';
import { builtinModules } from 'node:module';

const ioModules = [
  'postgres',
  'drizzle-orm',
  'drizzle-orm/*',
  'pino',
  'prom-client',
  'nodemailer',
  'smtp-server',
  '@elastic/*',
  '@azure/*',
  '@microsoft/*',
  '@hono/*',
  'hono',
  'hono/*',
  'csv-parse',
  'csv-parse/*',
  '@temporalio/activity',
  '@temporalio/client',
  '@temporalio/worker',
  '@temporalio/testing',
];

export default tseslint.config(
  { ignores: ['node_modules', 'dist', '.data', '.tools', 'db/migrations', 'web/**/*.js', 'coverage'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      globals: { ...globals.node },
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false } }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true, allowBoolean: true }],
      'no-console': 'off',
    },
  },
  {
    files: ['workflows/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: builtinModules
            .flatMap((m) => [m, `node:${m}`])
            .map((name) => ({
              name,
              message: 'Workflows are deterministic: no Node built-ins (do I/O in an activity).',
            })),
          patterns: [
            { group: ioModules, message: 'Workflows hold no I/O: call an activity instead.' },
            {
              group: ['**/activities/*', '**/activities', '**/db/*', '**/lib/*'],
              allowTypeImports: true,
              message: 'Import activities, db and lib by type only from workflow code.',
            },
          ],
        },
      ],
    },
  },
  {
    // Configuration is read once, validated, in lib/config.ts; code takes it from there. Entry points of the
    // tools around the product (scripts, benchmarks, tests, the simulators' launcher) read their own.
    files: ['**/*.ts'],
    ignores: ['lib/config.ts', 'scripts/**', 'bench/**', 'test/**', '**/*.test.ts', 'simulators/main.ts', 'drizzle.config.ts', 'vitest.config.ts'],
    rules: {
      'no-restricted-properties': [
        'error',
        { object: 'process', property: 'env', message: 'Read configuration through lib/config.ts (loadConfig), not process.env.' },
      ],
    },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: { parserOptions: { projectService: false, project: null } },
  },
);
