// What the API does with webhook endpoints: checks what a tenant gives (a URL this server may call, filters
// naming its own mailbox or account), then writes and wakes the endpoint's workflow where there is work.
import type { Client } from '@temporalio/client';
import type { Database } from '../../db/client.js';
import { accounts, mailboxes } from '../../db/schema/index.js';
import type { Config } from '../config.js';
import type { Encryptor } from '../crypto.js';
import { AddressRefusedError, resolveAllowedAddress } from '../net/address-guard.js';
import { findOwned } from '../tenants/owned.js';
import { queueTestEvent, replayDeliveries, type DeliveryRow } from './deliveries.js';
import { createEndpoint, deleteEndpoint, findEndpoint, rotateSecret, updateEndpoint, type EndpointFields, type EndpointRow } from './endpoints.js';
import { wakeEndpoint } from './start-workflow.js';

export interface WebhookServiceDeps {
  db: Database;
  encryptor: Encryptor;
  temporal: Client;
  config: Pick<Config, 'TASK_QUEUE_PREFIX' | 'WEBHOOK_ALLOW_HOSTS'>;
}

/** No such endpoint, or delivery of it, for this tenant. */
export class WebhookNotFoundError extends Error {
  constructor(what: `webhook endpoint ${string}` | `delivery ${number}`) {
    super(`no ${what}`);
    this.name = 'WebhookNotFoundError';
  }
}

/** The endpoint's URL or filter cannot be used: `reason` says which way. */
export class WebhookEndpointInvalidError extends Error {
  constructor(
    message: string,
    readonly field: 'url' | 'mailboxId' | 'accountId',
    readonly reason: 'scheme' | 'credentials' | 'refused_address' | 'unresolvable' | 'unknown_mailbox' | 'unknown_account',
  ) {
    super(message);
    this.name = 'WebhookEndpointInvalidError';
  }
}

const hostsOf = (list: string) =>
  list
    .split(',')
    .map((h) => h.trim())
    .filter(Boolean);

/** Refuses a URL this server must not call: not http(s), credentials in it, or a host on a refused address now. */
export async function checkEndpointUrl(url: string, allowHosts: string): Promise<void> {
  const target = new URL(url);
  if (target.protocol !== 'https:' && target.protocol !== 'http:') throw new WebhookEndpointInvalidError('the URL must be http or https', 'url', 'scheme');
  if (target.username || target.password) throw new WebhookEndpointInvalidError('the URL must not carry credentials', 'url', 'credentials');
  try {
    await resolveAllowedAddress(target.hostname.replace(/^\[|\]$/g, ''), hostsOf(allowHosts));
  } catch (error) {
    if (error instanceof AddressRefusedError) throw new WebhookEndpointInvalidError(error.message, 'url', 'refused_address');
    throw new WebhookEndpointInvalidError(`${target.hostname} does not resolve`, 'url', 'unresolvable');
  }
}

/** A filter's mailbox or account must be the tenant's own. */
async function checkFilters(db: Database, owner: string, fields: Partial<EndpointFields>): Promise<void> {
  const filters = [
    { field: 'mailboxId', table: mailboxes, id: fields.mailboxId, reason: 'unknown_mailbox', noun: 'mailbox' },
    { field: 'accountId', table: accounts, id: fields.accountId, reason: 'unknown_account', noun: 'account' },
  ] as const;
  for (const { field, table, id, reason, noun } of filters) {
    if (id && !(await findOwned(db, table, owner, id))) throw new WebhookEndpointInvalidError(`no ${noun} ${id}`, field, reason);
  }
}

async function owned(db: Database, owner: string, id: string): Promise<EndpointRow> {
  const endpoint = await findEndpoint(db, owner, id);
  if (!endpoint) throw new WebhookNotFoundError(`webhook endpoint ${id}`);
  return endpoint;
}

export async function registerEndpoint(deps: WebhookServiceDeps, owner: string, fields: EndpointFields) {
  await checkEndpointUrl(fields.url, deps.config.WEBHOOK_ALLOW_HOSTS);
  await checkFilters(deps.db, owner, fields);
  const created = await createEndpoint(deps, owner, fields);
  // Its workflow from the start: the projector only signals it.
  await wakeEndpoint(deps.temporal, deps.config, created.endpoint.id);
  return created;
}

export async function changeEndpoint(deps: WebhookServiceDeps, owner: string, id: string, fields: Partial<EndpointFields>): Promise<EndpointRow> {
  await owned(deps.db, owner, id);
  if (fields.url !== undefined) await checkEndpointUrl(fields.url, deps.config.WEBHOOK_ALLOW_HOSTS);
  await checkFilters(deps.db, owner, fields);
  const endpoint = await updateEndpoint(deps.db, owner, id, fields);
  if (!endpoint) throw new WebhookNotFoundError(`webhook endpoint ${id}`);
  // Enabled again: what waited goes out now, not at the workflow's next idle look.
  if (fields.enabled === true) await wakeEndpoint(deps.temporal, deps.config, id);
  return endpoint;
}

export async function removeEndpoint(deps: WebhookServiceDeps, owner: string, id: string): Promise<void> {
  if (!(await deleteEndpoint(deps.db, owner, id))) throw new WebhookNotFoundError(`webhook endpoint ${id}`);
  // Its workflow ends at its next look, which this makes now.
  await wakeEndpoint(deps.temporal, deps.config, id);
}

export async function rotateEndpointSecret(deps: WebhookServiceDeps, owner: string, id: string, overlapSeconds: number) {
  const rotated = await rotateSecret(deps, owner, id, overlapSeconds);
  if (!rotated) throw new WebhookNotFoundError(`webhook endpoint ${id}`);
  return rotated;
}

export async function replay(deps: WebhookServiceDeps, owner: string, id: string, which: { deliveryId: number } | { since: Date }): Promise<number> {
  await owned(deps.db, owner, id);
  const queued = await replayDeliveries(deps.db, owner, id, which);
  if ('deliveryId' in which && queued === 0) throw new WebhookNotFoundError(`delivery ${which.deliveryId}`);
  if (queued > 0) await wakeEndpoint(deps.temporal, deps.config, id);
  return queued;
}

export async function sendTestEvent(deps: WebhookServiceDeps, owner: string, id: string): Promise<DeliveryRow> {
  await owned(deps.db, owner, id);
  const delivery = await queueTestEvent(deps.db, owner, id);
  await wakeEndpoint(deps.temporal, deps.config, id);
  return delivery;
}

export { owned as ownedEndpoint };
