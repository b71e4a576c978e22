// The MSAL confidential client for Outlook (authorization code + PKCE, then silent renewal).
// Production talks to login.microsoftonline.com with MSAL's own discovery and transport. An http://
// identity origin (the local simulator) has no TLS and no discovery document, so MSAL is given the
// endpoints directly (authorityMetadata) under a placeholder https authority it accepts, and a fetch
// transport that can speak plain http.
import { ConfidentialClientApplication, LogLevel, type Configuration, type ICachePlugin, type INetworkModule, type NetworkResponse } from '@azure/msal-node';
import type { Config } from '../../config.js';

/** Delegated Graph permissions; MSAL adds openid, profile and offline_access (the refresh token). */
export const OUTLOOK_SCOPES = ['Mail.Read', 'User.Read'];

export interface OutlookAuthSettings {
  clientId: string;
  clientSecret: string;
  tenant: string;
  loginUrl: string;
  redirectUri: string;
}

/** The Outlook app registration from config, or undefined when Outlook is not configured. */
export function outlookAuthSettings(config: Config): OutlookAuthSettings | undefined {
  if (!config.OUTLOOK_CLIENT_ID || !config.OUTLOOK_CLIENT_SECRET) return undefined;
  return {
    clientId: config.OUTLOOK_CLIENT_ID,
    clientSecret: config.OUTLOOK_CLIENT_SECRET,
    tenant: config.OUTLOOK_TENANT,
    loginUrl: config.OUTLOOK_LOGIN_URL.replace(/\/$/, ''),
    redirectUri: config.OUTLOOK_REDIRECT_URI ?? `${config.PUBLIC_BASE_URL.replace(/\/$/, '')}/v1/oauth/outlook/callback`,
  };
}

const fetchTransport: INetworkModule = {
  sendGetRequestAsync: <T>(url: string, options?: { headers?: Record<string, string> }, timeout?: number) => send<T>(url, 'GET', options, timeout),
  sendPostRequestAsync: <T>(url: string, options?: { headers?: Record<string, string>; body?: string }, timeout?: number) =>
    send<T>(url, 'POST', options, timeout),
};

async function send<T>(
  url: string,
  method: string,
  options: { headers?: Record<string, string>; body?: string } = {},
  timeout = 15_000,
): Promise<NetworkResponse<T>> {
  const response = await fetch(url, { method, headers: options.headers, body: options.body, signal: AbortSignal.timeout(timeout) });
  const text = await response.text();
  let body: unknown = {};
  try {
    body = text ? JSON.parse(text) : {};
  } catch {
    body = { error: 'invalid_response', error_description: `HTTP ${response.status}` };
  }
  const headers: Record<string, string> = {};
  response.headers.forEach((value, key) => {
    headers[key] = value;
  });
  return { status: response.status, headers, body: body as T };
}

export function createMsalApp(settings: OutlookAuthSettings, cachePlugin?: ICachePlugin): ConfidentialClientApplication {
  const local = settings.loginUrl.startsWith('http://');
  const tenantUrl = `${settings.loginUrl}/${settings.tenant}`;
  const auth: Configuration['auth'] = local
    ? {
        clientId: settings.clientId,
        clientSecret: settings.clientSecret,
        authority: `https://login.local.invalid/${settings.tenant}/`,
        knownAuthorities: ['login.local.invalid'],
        authorityMetadata: JSON.stringify({
          authorization_endpoint: `${tenantUrl}/oauth2/v2.0/authorize`,
          token_endpoint: `${tenantUrl}/oauth2/v2.0/token`,
          issuer: `${tenantUrl}/v2.0`,
          jwks_uri: `${tenantUrl}/discovery/v2.0/keys`,
        }),
      }
    : { clientId: settings.clientId, clientSecret: settings.clientSecret, authority: `${tenantUrl}/` };
  return new ConfidentialClientApplication({
    auth,
    ...(cachePlugin ? { cache: { cachePlugin } } : {}),
    // MSAL's own logging stays off: its verbose lines can carry tokens and personal data.
    system: {
      loggerOptions: { logLevel: LogLevel.Error, piiLoggingEnabled: false, loggerCallback: () => {} },
      ...(local ? { networkClient: fetchTransport } : {}),
    },
  });
}
