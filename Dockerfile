# syntax=docker/dockerfile:1
# The one image recipe of Herald's services; SERVICE picks which. Build from the repository root:
#   docker build --build-arg SERVICE=connector -t herald/connector .
# (SERVICE is connector, router, presence or persistence.) CI has no Docker engine; scripts/check-images.mjs
# lints this file and runs the same pruned install for every service instead.

# Node as pinned in toolchain.json (scripts/check-images.mjs fails when they differ); add @sha256 digests in your registry mirror.
ARG NODE_VERSION=26.12.1
# pnpm at the version in package.json's packageManager field (scripts/check-images.mjs checks they agree).
ARG PNPM_VERSION=12.4.2
# No default: an image must say which service it is.
ARG SERVICE

FROM node:${NODE_VERSION}-slim AS build
ARG PNPM_VERSION
ARG SERVICE
RUN case "${SERVICE}" in connector|router|presence|persistence) ;; \
      *) echo "build with --build-arg SERVICE=connector|router|presence|persistence (got '${SERVICE}')" >&2; exit 1 ;; \
    esac
ENV PNPM_HOME=/pnpm CI=true
# Node 25 and later ship without corepack, so pnpm comes from npm, pinned.
RUN npm install -g pnpm@${PNPM_VERSION}
WORKDIR /src
# Dependencies first, from the lockfile alone, so this layer is cached across source changes and services.
COPY pnpm-lock.yaml pnpm-workspace.yaml .npmrc ./
# pnpm reads the patches of patchedDependencies (pnpm-workspace.yaml) already when it fetches.
COPY patches ./patches
RUN --mount=type=cache,id=pnpm-store,target=/pnpm/store pnpm fetch
COPY . .
RUN --mount=type=cache,id=pnpm-store,target=/pnpm/store pnpm install --offline --frozen-lockfile
RUN pnpm exec tsc -b apps/${SERVICE}
# Production dependencies only, with workspace packages copied in (no symlinks out of /out): the service's dist/
# (its build leaves tests and their fixtures out) and what it imports at run time.
RUN --mount=type=cache,id=pnpm-store,target=/pnpm/store pnpm --filter @herald/${SERVICE} deploy --prod /out

FROM node:${NODE_VERSION}-slim
ARG SERVICE
LABEL org.opencontainers.image.title="herald-${SERVICE}"
ENV NODE_ENV=production HOME=/tmp
WORKDIR /app
# Owned by root and not writable by the service user: the image works with a read-only root filesystem.
COPY --from=build /out /app
# Numeric, so Kubernetes can verify runAsNonRoot; matches the chart's runAsUser.
USER 10001:10001
# Metadata only: 9090 is every service's admin port (ADMIN_PORT), 8080 the connector's WebSocket port (PORT).
EXPOSE 8080 9090
# Exec form: node is PID 1 and receives SIGTERM itself, which starts the drain.
# No HEALTHCHECK: Kubernetes probes /healthz and /readyz on the admin port.
ENTRYPOINT ["node", "./dist/main.js"]
