FROM node:20-bookworm-slim
WORKDIR /app
COPY package.json package-lock.json tsconfig.json ./
COPY pipeline pipeline
COPY staging staging
COPY reconcilers reconcilers
COPY reports reports
COPY sql sql
COPY test test
RUN npm ci && npm prune --omit=dev
ENV TRUEUP_HOME=/var/lib/trueup
ENTRYPOINT ["node", "dist/pipeline/cli/bin.js"]
