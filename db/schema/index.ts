export * from './api-keys.js';
export * from './secrets.js';
export * from './blobs.js';
export * from './platform.js';
export * from './notifications.js';
export * from './rate-limits.js';
export * from './mailings.js';
