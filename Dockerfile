# syntax=docker/dockerfile:1
# One image for every Mailflow process: the API (default command) and each worker role
# (`node dist/workers/main.js` with WORKER_ROLES). Multi-stage: dependencies, build, slim runtime.
# Debian (glibc), not Alpine: the Temporal worker's native core bridge is built for glibc.

ARG NODE_VERSION=20.19

FROM node:${NODE_VERSION}-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund

FROM deps AS build
COPY tsconfig.json tsconfig.build.json ./
COPY api ./api
COPY activities ./activities
COPY workflows ./workflows
COPY workers ./workers
COPY db ./db
COPY lib ./lib
COPY scripts ./scripts
COPY simulators ./simulators
COPY web ./web
# Compiled JS in dist/ (with the migrations), plus the prebuilt workflow bundle the workers load instead of
# bundling at boot.
RUN npm run build \
 && cp -r web dist/web

FROM node:${NODE_VERSION}-bookworm-slim AS prod-deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

FROM node:${NODE_VERSION}-bookworm-slim AS runtime
ENV NODE_ENV=production \
    API_HOST=0.0.0.0 \
    API_PORT=3000
WORKDIR /app
COPY --from=prod-deps --chown=root:root /app/node_modules ./node_modules
COPY --from=build --chown=root:root /app/dist ./dist
COPY --chown=root:root package.json ./
# Code is owned by root and read-only to the process; the process runs as the unprivileged `node` user.
USER node
EXPOSE 3000
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.API_PORT||3000)+'/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
CMD ["node", "dist/api/server.js"]
