// Every resource's routes, mounted by api/app.ts. One module per resource.
import { healthRoutes } from './health.js';
import { apiKeyRoutes } from './v1/api-keys.js';

export const routers = [healthRoutes, apiKeyRoutes];
