// Every request body has a ceiling, public routes included, and an oversized one is refused (413)
// before it is read whole: a declared Content-Length is checked up front, and a streamed (chunked)
// body is counted as it arrives and refused at the first byte past the limit (hono's bodyLimit).
// Uploads stream to the blob store, which enforces their own larger limits while they arrive; here
// only their declared length is checked, so they are never buffered.
import type { Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { createMiddleware } from 'hono/factory';
import type { Config } from '../../lib/config.js';
import type { AppEnv } from '../context.js';
import { AppError } from '../errors.js';

const MIB = 1024 * 1024;

/** The multipart upload routes and the largest body each accepts (files plus room for the text fields). */
function uploadLimit(c: Context<AppEnv>, config: Config): number | undefined {
  if (c.req.method !== 'POST') return undefined;
  if (c.req.path === '/v1/emails') return config.ATTACHMENTS_MAX_TOTAL_BYTES + 2 * MIB;
  if (c.req.path === '/v1/mailings') return config.MAILING_MAX_CSV_BYTES + MIB;
  return undefined;
}

// Connection: close, so the server drops the rest of the body instead of draining it to reuse the connection.
const tooLarge = (limit: number) => new AppError('payload_too_large', `the request body exceeds ${limit} bytes`, { headers: { Connection: 'close' } });

export function limitBodies(config: Config) {
  const limit = config.API_MAX_BODY_BYTES;
  const bounded = bodyLimit({
    maxSize: limit,
    onError: () => {
      throw tooLarge(limit);
    },
  });
  return createMiddleware<AppEnv>(async (c, next) => {
    const upload = uploadLimit(c, config);
    if (upload === undefined) return bounded(c, next);
    const declared = Number(c.req.header('content-length') ?? 0);
    if (declared > upload) throw tooLarge(upload);
    return next();
  });
}
