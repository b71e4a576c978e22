// The only routes reachable without an API key. Listed in one place (and in docs/api.md, "Public endpoints"); each is
// verified otherwise, and test/integration/security.test.ts lists how.
export const publicPathPatterns: RegExp[] = [
  /^\/$/, // web pages (they ask for a key before calling the API)
  /^\/web(\/.*)?$/,
  /^\/health$/,
  /^\/ready$/, // liveness and readiness probes
  /^\/docs$/,
  /^\/openapi\.json$/, // API documentation
  /^\/v1\/webhooks\/[^/]+$/, // provider webhooks: verified by signature instead
  /^\/v1\/oauth\/[^/]+\/callback$/, // OAuth redirects from identity providers
  /^\/v1\/verify$/, // recipients verifying their mailing token
];

export function isPublicPath(path: string): boolean {
  return publicPathPatterns.some((pattern) => pattern.test(path));
}
