import { createMiddleware } from 'hono/factory';
import { authenticate } from '../auth/api-keys.js';
import type { AppEnv } from '../context.js';
import { AppError } from '../errors.js';
import { isPublicPath } from '../public-paths.js';

export const requireApiKey = createMiddleware<AppEnv>(async (c, next) => {
  if (isPublicPath(c.req.path)) return next();
  const header = c.req.header('authorization') ?? '';
  const match = /^Bearer\s+(\S+)$/i.exec(header);
  if (!match) {
    throw new AppError('unauthorized', 'an API key is required: send "Authorization: Bearer <key>"', { headers: { 'WWW-Authenticate': 'Bearer' } });
  }
  const { deps } = c.var;
  const principal = await authenticate(deps.db, deps.config.ADMIN_API_KEY, match[1]!);
  if (!principal) throw new AppError('unauthorized', 'the API key is invalid or revoked', { headers: { 'WWW-Authenticate': 'Bearer error="invalid_token"' } });
  c.set('principal', principal);
  return next();
});

export function assertAdmin(principal: AppEnv['Variables']['principal']): void {
  if (principal?.kind !== 'admin') throw new AppError('forbidden', 'only the admin key may manage API keys');
}
