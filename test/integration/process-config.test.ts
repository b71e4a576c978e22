// A process started with a bad environment stops at once, naming the variable, with EX_CONFIG (78).
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../../scripts/services/index.js';
import { testEnv } from '../helpers/config.js';

function run(script: string, env: Record<string, string | undefined>) {
  const clean = Object.fromEntries(Object.entries({ PATH: process.env.PATH, HOME: process.env.HOME, ...env }).filter(([, v]) => v !== undefined)) as NodeJS.ProcessEnv;
  return spawnSync(process.execPath, ['--import', 'tsx', script], { cwd: repoRoot, env: clean, encoding: 'utf8', timeout: 60_000 });
}

describe('process configuration', () => {
  it('the API refuses to start without DATABASE_URL and says so', () => {
    const result = run('api/server.ts', { ...testEnv(), DATABASE_URL: undefined });
    expect(result.status).toBe(78);
    expect(result.stderr).toContain('DATABASE_URL');
  });

  it('a worker refuses a malformed encryption key and an unknown variable value', () => {
    const result = run('workers/main.ts', { ...testEnv(), ENCRYPTION_KEYS: 'k1:dG9vLXNob3J0', LOG_LEVEL: 'chatty' });
    expect(result.status).toBe(78);
    expect(result.stderr).toContain('ENCRYPTION_KEYS');
    expect(result.stderr).toContain('LOG_LEVEL');
  });
});
