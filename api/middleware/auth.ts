import { createMiddleware } from 'hono/factory';
import { authenticate, principalOfCredential } from '../auth/api-keys.js';
import { verifyStreamCookie } from '../auth/stream-cookie.js';
import type { AppEnv } from '../context.js';
import { AppError } from '../errors.js';
import { isPublicPath } from '../public-paths.js';

export const requireApiKey = createMiddleware<AppEnv>(async (c, next) => {
  if (isPublicPath(c.req.path)) return next();
  const header = c.req.header('authorization') ?? '';
  const match = /^Bearer\s+(\S+)$/i.exec(header);
  const { deps } = c.var;
  // A browser's event stream carries a stream cookie instead (api/auth/stream-cookie.ts), for that route only.
  if (!match && c.req.method === 'GET') {
    const credential = verifyStreamCookie(deps.config, c.req.path, c.req.header('cookie'));
    const principal = credential === undefined ? undefined : await principalOfCredential(deps.db, deps.config.ADMIN_API_KEY, credential);
    if (principal) {
      c.set('principal', principal);
      return next();
    }
  }
  if (!match) {
    throw new AppError('unauthorized', 'an API key is required: send "Authorization: Bearer <key>"', { headers: { 'WWW-Authenticate': 'Bearer' } });
  }
  const principal = await authenticate(deps.db, deps.config.ADMIN_API_KEY, match[1]!);
  if (!principal) throw new AppError('unauthorized', 'the API key is invalid or revoked', { headers: { 'WWW-Authenticate': 'Bearer error="invalid_token"' } });
  if ('disabled' in principal) throw new AppError('forbidden', `the tenant ${principal.disabled} of this API key is disabled`);
  c.set('principal', principal);
  return next();
});
