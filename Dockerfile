# steam-worker image: compiles the TypeScript sources, then runs `node dist/main.js`
# as the unprivileged `node` user with production dependencies only.
#
#   docker build -t steam-worker .
#   docker run --env-file .env -p 3000:3000 steam-worker
#
# Plain Dockerfile syntax (no BuildKit-only features), so that both `docker build`
# and Debian's docker-compose 1.29 (classic builder) can build it.
#
# Node 24 LTS on Debian bookworm (slim: no compiler, no curl). The node:24 tag
# tracks the latest 24.x release; the app itself needs Node >= 20.19 (the NestJS
# 12 packages are ESM-only and are loaded through require(esm)).
# Without a Docker engine: tools/image-check.sh builds and runs it with buildah.
ARG NODE_IMAGE=node:24-bookworm-slim

# ---------------------------------------------------------------------------
# base: the Node image, with the version requirement checked once (a NODE_IMAGE
# build argument may pick another; CI tests 20 and 24)
# ---------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS base
RUN node -e "const [a,b]=process.versions.node.split('.').map(Number); if (a<20||(a===20&&b<19)) { console.error('Node >= 20.19 required, got '+process.version); process.exit(1); }"
WORKDIR /app
ENV NPM_CONFIG_UPDATE_NOTIFIER=false \
    NPM_CONFIG_FUND=false \
    NPM_CONFIG_AUDIT=false

# ---------------------------------------------------------------------------
# build: all dependencies (dev included) and `npm run build` -> dist/
# ---------------------------------------------------------------------------
FROM base AS build
# msgpackr-extract (optional native addon of bull's msgpackr, pinned to 3.0.4 by
# the package.json override so that `npm ci` accepts the lock file) ships prebuilt
# linux-x64/arm64 Node-API binaries, which load on any Node version; bull works
# without it, so no compiler toolchain is installed.
# Behind a TLS-inspecting proxy npm needs the proxy's CA: pass its path with
# --build-arg NODE_EXTRA_CA_CERTS=... and mount the file for the build (buildah bud -v,
# as tools/image-check.sh does). A build argument, so it never reaches the runtime stage.
ARG NODE_EXTRA_CA_CERTS
COPY package.json package-lock.json ./
RUN npm ci
COPY nest-cli.json tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# ---------------------------------------------------------------------------
# prod-deps: production dependencies only, from the same lock file
# ---------------------------------------------------------------------------
FROM base AS prod-deps
ARG NODE_EXTRA_CA_CERTS
COPY package.json package-lock.json ./
RUN npm ci --omit=dev

# ---------------------------------------------------------------------------
# runtime
# ---------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime
# Two malloc arenas: glibc's default (8 per core) lets RSS drift upwards with
# per-thread fragmentation under large messages; the poison drill runs so too.
# A 128 MB old space: V8 otherwise grows the heap lazily to ~290 MB RSS (Node 20)
# or ~470 MB (Node 24) over a 50,000-pair batch whose live data is far smaller
# (npm run bench, part c). 8 MB semi-spaces: Node 24's larger default young
# generation under that cap made the batch spend most of its CPU in GC.
ENV NODE_ENV=production \
    NPM_CONFIG_UPDATE_NOTIFIER=false \
    MALLOC_ARENA_MAX=2 \
    NODE_OPTIONS="--max-old-space-size=128 --max-semi-space-size=8"
WORKDIR /app
# Owned by root, read-only for the process: the worker writes no files.
COPY package.json package-lock.json ./
COPY --from=prod-deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist

# The official image's `node` user, by number so that Kubernetes' runAsNonRoot
# can verify it without reading /etc/passwd.
USER 1000:1000
EXPOSE 3000

# Liveness (docs/contract.md#http-endpoints): 200 while the process can recover by itself
# ("ok" or "degraded"), 503 when only a restart helps. The slim image has no
# curl, so Node's built-in fetch does the probe.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.HTTP_PORT||3000)+'/health',{signal:AbortSignal.timeout(4000)}).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]

# SIGTERM: stop taking tasks, drain for up to SHUTDOWN_GRACE_MS [25000], requeue
# the rest, exit 0 (docs/contract.md#shutdown). Give `docker stop` a longer timeout (-t 35).
STOPSIGNAL SIGTERM
CMD ["node", "dist/main.js"]
