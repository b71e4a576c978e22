// A process started with a bad environment stops at once, naming the variable, with EX_CONFIG (78).
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../../scripts/services/index.js';
import { testEnv } from '../helpers/config.js';

function run(script: string, env: Record<string, string | undefined>) {
  const clean: NodeJS.ProcessEnv = Object.fromEntries(
    Object.entries({ PATH: process.env.PATH, HOME: process.env.HOME, ...env }).filter(([, v]) => v !== undefined),
  );
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

describe('API process', () => {
  it('serves, then on SIGTERM closes its connections and exits 0', async () => {
    const { spawn } = await import('node:child_process');
    const { setTimeout: sleep } = await import('node:timers/promises');
    const port = 20_000 + Math.floor(Math.random() * 5_000);
    const child = spawn(process.execPath, ['--import', 'tsx', 'api/server.ts'], {
      cwd: repoRoot,
      env: { ...process.env, ...testEnv({ API_PORT: String(port), LOG_LEVEL: 'info' }) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => {
      output += d.toString();
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      const deadline = Date.now() + 60_000;
      let health: Response | undefined;
      while (!health?.ok) {
        if (Date.now() > deadline || child.exitCode !== null) throw new Error(`API did not start:\n${output}`);
        health = await fetch(`http://127.0.0.1:${port}/health`).catch(() => undefined);
        if (!health?.ok) await sleep(200);
      }
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(output).toContain('api stopping');
      await expect(fetch(`http://127.0.0.1:${port}/health`)).rejects.toThrow();
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  }, 90_000);
});
