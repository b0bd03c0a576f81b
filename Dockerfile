# Bellwether engine image: Node 24 (the active LTS), nats-server (for the embedded default) and the
# native TensorFlow backend (@tensorflow/tfjs-node installs here; it downloads libtensorflow at build).
# Only what the engine runs ships: the compiled code without the benchmarks, production
# dependencies, the shipped models and package.json.
FROM node:24-bookworm-slim AS build
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ ca-certificates \
    && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
# @tensorflow/tfjs-node is an optional dependency: npm ci installs it here, where its install
# script can download libtensorflow; the engine then logs tf_backend "tensorflow".
RUN npm ci --no-audit --no-fund --foreground-scripts \
    && node -e "require('@tensorflow/tfjs-node')"
COPY tsconfig.json tsconfig.build.json ./
COPY contract contract
COPY lib lib
COPY operators operators
COPY models models
COPY security security
COPY engine engine
COPY api api
COPY feeds feeds
COPY cli cli
COPY bench bench
RUN npm run build && npm prune --omit=dev && rm -rf dist/bench \
    && mkdir -p /app/shipped-models && cp -r models/churn models/intent models/clv-params /app/shipped-models/

FROM node:24-bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends nats-server ca-certificates \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
ENV NODE_ENV=production
COPY --from=build /app/node_modules node_modules
COPY --from=build /app/dist dist
COPY --from=build /app/shipped-models models
COPY package.json ./
# The API listens on all interfaces only with API keys (BW_API_KEYS_FILE, a mounted file of hashes);
# without keys it stays on the container's loopback and cannot be reached from outside: give it
# keys (README, "Running it in a container"). Give BW_PII_KEY_FILE a mounted secret too, or the PII
# key is generated inside /data (docs/security.md).
ENV BW_DATA_DIR=/data BW_HTTP_HOST=0.0.0.0
RUN mkdir -p /data && chown node:node /data && chmod 700 /data
VOLUME /data
EXPOSE 8080 4222
USER node
# Liveness: /healthz answers 200 while the process serves HTTP (no key needed). /readyz (503 while
# partitions move or catch up) is for load balancers, not for restarts. The image has no curl.
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 \
    CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.BW_HTTP_PORT || 8080) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["node", "dist/cli/main.js"]
CMD ["run"]
