// The real API on a real port, with real dependencies, for HTTP tests.
import { serve } from '@hono/node-server';
import type { AddressInfo } from 'node:net';
import { createApp } from '../../api/app.js';
import type { AppDeps } from '../../api/context.js';
import { buildAppDeps } from '../../api/deps.js';
import { createLogger } from '../../lib/logger.js';
import { TEST_ADMIN_KEY, testConfig, unique } from './config.js';
import { beforeAll } from 'vitest';
import { useRig } from './rig.js';

export interface TestApi {
  url: string;
  deps: AppDeps;
  /** fetch against the API, with the admin key unless `auth` is given (null: no header). */
  request(path: string, init?: RequestInit & { auth?: string | null }): Promise<Response>;
  close: () => Promise<void>;
}

/** A client for an API at `url` (this process's or another's), with the admin key unless `auth` says otherwise. */
export function apiClient(url: string): Pick<TestApi, 'request'> {
  return {
    request(path, init = {}) {
      const { auth, ...rest } = init;
      const headers = new Headers(rest.headers);
      const key = auth === undefined ? TEST_ADMIN_KEY : auth;
      if (key !== null) headers.set('authorization', `Bearer ${key}`);
      return fetch(`${url}${path}`, { ...rest, headers });
    },
  };
}

/** The file's one API: started before its first test, closed after its last. */
export const useTestApi = (envOverrides: Record<string, string | undefined> = {}): TestApi => useRig(() => startTestApi(envOverrides));

export async function startTestApi(envOverrides: Record<string, string | undefined> = {}): Promise<TestApi> {
  const config = testConfig(envOverrides);
  const { deps, close } = buildAppDeps(config, createLogger({ level: config.LOG_LEVEL }));
  // As api/server.ts does: an unreachable index is reported by /ready, not fatal at start.
  await deps.mailIndex.ensureReady().catch(() => {});
  const app = createApp(deps);
  const server = await new Promise<ReturnType<typeof serve>>((resolve) => {
    const s = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s));
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    deps,
    request: apiClient(url).request,
    async close() {
      // Event streams stay open until the client goes: end them, as the server's shutdown does.
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
      });
      await close();
    },
  };
}

/** A new tenant's API key (the admin key makes it): a test's own tenant sees only what the test made. */
export async function newTenantKey(api: Pick<TestApi, 'request'>, name: string, scopes: string[] = ['send', 'read']): Promise<string> {
  const response = await api.request('/v1/api-keys', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: unique(name), scopes }),
  });
  if (response.status !== 201) throw new Error(`could not make a tenant key: ${response.status} ${await response.text()}`);
  return ((await response.json()) as { key: string }).key;
}

/** A tenant of the file's own, made before its first test: `tenant.key` is its key (read inside tests and hooks). */
export function useTenantKey(api: () => Pick<TestApi, 'request'>, name: string): { readonly key: string } {
  let key: string | undefined;
  beforeAll(async () => {
    key = await newTenantKey(api(), name);
  });
  return {
    get key() {
      if (!key) throw new Error('the tenant key is read before it was made (outside a test or hook)');
      return key;
    },
  };
}
