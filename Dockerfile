# Bellwether engine image: Node 20, nats-server (for the embedded default) and the native
# TensorFlow backend (@tensorflow/tfjs-node installs here; it downloads libtensorflow at build).
FROM node:20-bookworm-slim AS build
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ ca-certificates \
    && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
# @tensorflow/tfjs-node is an optional dependency: npm install installs it here, where its install
# script can download libtensorflow; the engine then logs tf_backend "tensorflow".
RUN npm install --no-audit --no-fund --foreground-scripts \
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
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends nats-server ca-certificates \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build /app/node_modules node_modules
COPY --from=build /app/dist dist
COPY --from=build /app/models models
COPY package.json ./
# The API listens on all interfaces only with API keys (BW_API_KEYS_FILE, a mounted file of hashes);
# without keys it stays on the container's loopback. Give BW_PII_KEY_FILE a mounted secret too,
# or the PII key is generated inside /data (docs/security.md).
ENV BW_DATA_DIR=/data BW_HTTP_HOST=0.0.0.0
RUN mkdir -p /data && chown node:node /data
VOLUME /data
EXPOSE 8080 4222
USER node
ENTRYPOINT ["node", "dist/cli/main.js"]
CMD ["run"]
