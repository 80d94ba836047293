# syntax=docker/dockerfile:1
# The app image: `node dist/main.js <command>` (service | producer | processor | api | migrate | backfill).
#   docker build -t crypto-price-pipeline .
#   docker run --rm -p 127.0.0.1:3000:3000 crypto-price-pipeline            # `service` on embedded adapters
#   docker run --rm crypto-price-pipeline migrate --help
# docker-compose.yml runs it against Kafka, Redis and TimescaleDB.

# ---- build: every dependency, then the TypeScript build into dist/ ----
FROM node:20-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# ---- runtime: production dependencies, dist/ and public/ only ----
FROM node:20-slim AS runtime
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
# The dashboard's own files; htmx and uPlot are served from node_modules (production dependencies).
COPY public ./public
# The files stay root-owned and read-only to the process: it writes nothing to disk.
USER node
EXPOSE 3000
ENTRYPOINT ["node", "dist/main.js"]
CMD ["service"]
