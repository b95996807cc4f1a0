// Static checks of infra/: docker-compose, Dockerfiles, .env.example, k8s manifests, Prometheus
// config and rules, Grafana dashboards, shell scripts. No Docker engine runs here, so images are
// checked as files; the tools that can run (docker-compose config, promtool, shellcheck) do.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse, parseAllDocuments } from 'yaml';
import { API_ENV_VARS } from '@setrain/api';
import { DEFAULT_WORKER_METRICS_PORT, METRIC_CATALOGUE } from '@setrain/protocol';
import { WORKER_ENV_VARS } from '@setrain/worker';
import { promtoolPath, requireBinary, tempDir } from './harness/index.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const infra = join(root, 'infra');
const composeFile = join(infra, 'docker-compose.yml');
const envExample = join(infra, '.env.example');
/** The network alias every worker service carries and Prometheus resolves. */
const WORKER_ALIAS = 'setrain-workers';
/** Environment a worker container may get beyond what apps/worker/src/config.ts reads: read by
 * TensorFlow and the CUDA driver, not by setrain. */
const RUNTIME_ONLY_ENV = new Set([
  'TF_FORCE_GPU_ALLOW_GROWTH',
  'CUDA_CACHE_PATH',
  'CUDA_CACHE_MAXSIZE',
]);

type Json = Record<string, unknown>;

function read(path: string): string {
  return readFileSync(path, 'utf8');
}

function asRecord(value: unknown, what: string): Json {
  assert.ok(
    typeof value === 'object' && value !== null && !Array.isArray(value),
    `${what} is not a mapping`,
  );
  return value as Json;
}

let composeCache: { services: Record<string, Json> } | undefined;

/** The compose file as docker-compose resolves it (anchors merged, variables from .env.example);
 * run once, since docker-compose takes seconds to start. */
function resolvedCompose(): { services: Record<string, Json> } {
  if (composeCache !== undefined) return composeCache;
  const bin = requireBinary('docker-compose', 'docker-compose');
  const text = execFileSync(bin, ['--env-file', envExample, '-f', composeFile, 'config'], {
    encoding: 'utf8',
    cwd: root,
  });
  const doc = asRecord(parse(text), 'compose config');
  composeCache = { services: asRecord(doc.services, 'services') as Record<string, Json> };
  return composeCache;
}

/** Variable names .env.example documents: assignments and names in comments. */
function documentedEnvVars(): Set<string> {
  return new Set(
    [...read(envExample).matchAll(/\b([A-Z][A-Z0-9_]{2,})\b/g)].map((m) => m[1] ?? ''),
  );
}

function envKeys(service: Json): string[] {
  const env = service.environment;
  if (env === undefined) return [];
  if (Array.isArray(env)) return env.map((e) => String(e).split('=')[0] ?? '');
  return Object.keys(asRecord(env, 'environment'));
}

interface DockerfileInfo {
  readonly path: string;
  readonly args: Map<string, string>;
  readonly stages: { from: string; name?: string; lines: string[] }[];
}

/** Parses a Dockerfile into its global ARGs and stages (continuation lines joined). */
function parseDockerfile(path: string): DockerfileInfo {
  const lines = read(path)
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  const args = new Map<string, string>();
  const stages: DockerfileInfo['stages'] = [];
  for (const line of lines) {
    const [instruction = '', ...rest] = line.split(/\s+/);
    const upper = instruction.toUpperCase();
    if (upper === 'FROM') {
      const asIndex = rest.findIndex((r) => r.toUpperCase() === 'AS');
      stages.push({
        from: rest.filter((r) => !r.startsWith('--'))[0] ?? '',
        ...(asIndex >= 0 ? { name: rest[asIndex + 1] ?? '' } : {}),
        lines: [],
      });
    } else if (stages.length === 0 && upper === 'ARG') {
      const [name = '', value = ''] = rest.join(' ').split('=');
      args.set(name, value);
    } else {
      stages.at(-1)?.lines.push(line);
    }
  }
  return { path, args, stages };
}

function dockerfiles(): string[] {
  return readdirSync(join(infra, 'docker'))
    .filter((f) => f.endsWith('.Dockerfile'))
    .map((f) => join(infra, 'docker', f));
}

function k8sDocuments(): { file: string; doc: Json }[] {
  const dir = join(infra, 'k8s');
  const out: { file: string; doc: Json }[] = [];
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.yaml'))) {
    for (const document of parseAllDocuments(read(join(dir, file)))) {
      assert.equal(
        document.errors.length,
        0,
        `${file}: ${document.errors.map((e) => e.message).join('; ')}`,
      );
      const doc = document.toJS() as unknown;
      if (doc !== null) out.push({ file, doc: asRecord(doc, file) });
    }
  }
  return out;
}

/** Dockerfile of each image name compose builds (`setrain/api` -> infra/docker/api.Dockerfile). */
function composeImages(services: Record<string, Json>): Map<string, string> {
  const images = new Map<string, string>();
  for (const service of Object.values(services)) {
    if (service.build === undefined || typeof service.image !== 'string') continue;
    const build = asRecord(service.build, 'build');
    const repository = service.image.replace(/:[^/:]+$/, '');
    images.set(repository, resolve(String(build.context), String(build.dockerfile)));
  }
  return images;
}

test('docker-compose config -q accepts infra/docker-compose.yml with .env.example', () => {
  const bin = requireBinary('docker-compose', 'docker-compose');
  const result = spawnSync(bin, ['--env-file', envExample, '-f', composeFile, 'config', '-q'], {
    encoding: 'utf8',
    cwd: root,
  });
  assert.equal(result.status, 0, result.stderr);
});

test('every GPU worker service reserves exactly one GPU, each a different one; profiles start 1, 2, 4, 8 of them', () => {
  const { services } = resolvedCompose();
  const gpuServices = Object.entries(services).filter(([, s]) =>
    JSON.stringify(s.deploy ?? {}).includes('nvidia'),
  );
  assert.ok(gpuServices.length >= 1, 'no GPU worker services');
  const seen = new Map<string, string>();
  for (const [name, service] of gpuServices) {
    const devices = (
      asRecord(
        asRecord(asRecord(service.deploy, 'deploy').resources, 'resources').reservations,
        'reservations',
      ).devices as Json[]
    ).map((d) => asRecord(d, 'device'));
    assert.equal(devices.length, 1, `${name} reserves ${devices.length} device entries`);
    const device = devices[0] as Json;
    assert.ok(!('count' in device), `${name} reserves by count; use device_ids`);
    const ids = device.device_ids as unknown[];
    assert.equal(ids.length, 1, `${name} reserves ${ids.length} GPUs`);
    assert.deepEqual(device.capabilities, ['gpu'], `${name}: capabilities`);
    const id = String(ids[0]);
    assert.ok(!seen.has(id), `${name} and ${seen.get(id)} share GPU ${id}`);
    seen.set(id, name);
    assert.equal(service.scale ?? 1, 1, `${name} must not be scaled`);
  }
  for (const count of [1, 2, 4, 8]) {
    const inProfile = gpuServices.filter(([, s]) =>
      ((s.profiles as string[] | undefined) ?? []).includes(`gpu${count}`),
    );
    const ids = inProfile.map(
      ([, s]) => JSON.stringify(s.deploy).match(/"device_ids":\["(\d+)"\]/)?.[1],
    );
    assert.deepEqual(
      ids.map(Number).sort((a, b) => a - b),
      Array.from({ length: count }, (_, i) => i),
      `profile gpu${count} must start the workers of GPUs 0..${count - 1}`,
    );
  }
});

test('every worker service is on the network alias Prometheus resolves, and Redis is durable', () => {
  const { services } = resolvedCompose();
  const workers = Object.entries(services).filter(([name]) => name.startsWith('worker-'));
  assert.ok(
    workers.some(([name]) => name === 'worker-cpu'),
    'no scalable worker-cpu service',
  );
  for (const [name, service] of workers) {
    const aliases = asRecord(
      asRecord(service.networks, `${name} networks`).default,
      `${name} default network`,
    ).aliases as string[];
    assert.ok(aliases.includes(WORKER_ALIAS), `${name} lacks the ${WORKER_ALIAS} alias`);
    assert.ok(!('container_name' in service), `${name} has a container_name, so it cannot scale`);
    assert.ok(!('ports' in service), `${name} publishes ports, so replicas would collide`);
  }
  const redisCommand = (services.redis?.command as string[]).join(' ');
  assert.match(redisCommand, /--appendonly yes/);
  assert.match(redisCommand, /--maxmemory-policy noeviction/);
  assert.ok(JSON.stringify(services.redis?.volumes).includes(':/data'), 'redis has no data volume');
  assert.ok(JSON.stringify(services['minio-init']).includes('create-bucket.sh'), 'no bucket job');
});

test('every image build context, Dockerfile and COPY source exists', () => {
  const { services } = resolvedCompose();
  const images = composeImages(services);
  assert.ok(images.size >= 3, 'compose builds fewer images than expected');
  const checked = new Set<string>();
  for (const [name, service] of Object.entries(services)) {
    if (service.build === undefined) continue;
    const build = asRecord(service.build, `${name} build`);
    const context = String(build.context);
    assert.ok(
      statSync(context).isDirectory(),
      `${name}: build context ${context} is not a directory`,
    );
    const dockerfile = resolve(context, String(build.dockerfile));
    assert.ok(existsSync(dockerfile), `${name}: ${dockerfile} does not exist`);
    checked.add(dockerfile);
  }
  // The webgpu Dockerfile is not the compose default; check every Dockerfile against the repo root.
  for (const path of dockerfiles()) {
    const info = parseDockerfile(path);
    for (const stage of info.stages) {
      for (const line of stage.lines.filter((l) => /^(COPY|ADD)\s/i.test(l))) {
        if (/--from=/.test(line)) continue;
        const parts = line
          .split(/\s+/)
          .slice(1)
          .filter((p) => !p.startsWith('--'));
        for (const source of parts.slice(0, -1)) {
          assert.ok(
            existsSync(join(root, source)),
            `${relative(root, path)}: COPY source ${source} does not exist`,
          );
        }
      }
    }
  }
  assert.ok(checked.size >= 3);
});

test('every Dockerfile pins its base images, runs as a non-root USER, has a HEALTHCHECK and runs the built dist', () => {
  const files = dockerfiles();
  assert.ok(
    files.length >= 4,
    'expected api, worker-cpu, worker-gpu-tensorflow and worker-gpu-webgpu',
  );
  for (const path of files) {
    const name = relative(root, path);
    const info = parseDockerfile(path);
    const stageNames = new Set(info.stages.map((s) => s.name).filter((n) => n !== undefined));
    for (const stage of info.stages) {
      const from = stage.from.replace(
        /^\$\{(\w+)\}$/,
        (_m, arg: string) => info.args.get(arg) ?? '',
      );
      if (stageNames.has(from)) continue;
      assert.match(
        from,
        /^[\w./-]+:[\w.-]*\d[\w.-]*(@sha256:[0-9a-f]{64})?$/,
        `${name}: base ${stage.from} is not pinned`,
      );
      assert.doesNotMatch(from, /:(latest|lts|current|stable)\b/, `${name}: base ${from} floats`);
    }
    const final = info.stages.at(-1);
    assert.ok(final !== undefined, `${name} has no stage`);
    const users = final.lines.filter((l) => /^USER\s/i.test(l));
    assert.ok(users.length > 0, `${name}: final stage has no USER`);
    const user = (users.at(-1) ?? '').split(/\s+/)[1] ?? '';
    assert.ok(!['root', '0', '0:0'].includes(user), `${name}: runs as ${user}`);
    assert.ok(
      final.lines.some((l) => /^HEALTHCHECK\s+--/i.test(l) || /^HEALTHCHECK\s+CMD/i.test(l)),
      `${name}: no HEALTHCHECK`,
    );
    const cmd = final.lines.find((l) => /^CMD\s/i.test(l)) ?? '';
    assert.match(
      cmd,
      /"node", "apps\/\w+\/dist\/main\.js"/,
      `${name}: CMD does not run the built dist`,
    );
    const text = read(path);
    assert.match(
      text,
      /npm ci .*--omit=dev/,
      `${name}: final dependencies are not production-only`,
    );
    assert.match(
      text,
      /COPY package\.json package-lock\.json/,
      `${name}: npm ci without the lockfile`,
    );
  }
  const tf = read(join(infra, 'docker', 'worker-gpu-tensorflow.Dockerfile'));
  for (const needle of [
    'TF_FORCE_GPU_ALLOW_GROWTH',
    'CUDA_CACHE_PATH',
    'CUDA_CACHE_MAXSIZE',
    'TFJS_NODE_CDN_STORAGE',
    'TFJS_NODE_BASE_URI',
    'cudnn8',
  ]) {
    assert.ok(tf.includes(needle), `worker-gpu-tensorflow.Dockerfile lacks ${needle}`);
  }
  const webgpu = read(join(infra, 'docker', 'worker-gpu-webgpu.Dockerfile'));
  assert.ok(
    webgpu.includes('libvulkan1') && webgpu.includes('nvidia_icd.json'),
    'webgpu image lacks the Vulkan loader or ICD',
  );
  assert.ok(!/nvidia\/cuda/.test(webgpu), 'webgpu image must not pin CUDA');
  const cpu = read(join(infra, 'docker', 'worker-cpu.Dockerfile'));
  assert.ok(cpu.includes('libdnnl-dev') && cpu.includes('libdnnl2'), 'cpu image lacks oneDNN');
});

test('the GPU tensorflow image fails with a clear message when no libtensorflow is supplied', async () => {
  const dir = await tempDir('infra-tfjs-node');
  try {
    const result = spawnSync('bash', [join(infra, 'docker', 'install-libtensorflow.sh')], {
      encoding: 'utf8',
      env: {
        PATH: process.env.PATH ?? '',
        TFJS_NODE_DIR: dir.path,
        LIBTENSORFLOW_DIR: join(dir.path, 'none'),
      },
    });
    assert.equal(result.status, 1);
    assert.match(result.stderr, /no libtensorflow supplied/);
    assert.match(result.stderr, /TFJS_NODE_CDN_STORAGE/);
  } finally {
    await dir.cleanup();
  }
});

test('every env var the api and worker read is documented in .env.example, and compose passes no unknown ones', () => {
  const documented = documentedEnvVars();
  // The schemas' own key lists (shared fragments included), not a parse of their source text.
  const apiVars = [...API_ENV_VARS];
  const workerVars = [...WORKER_ENV_VARS];
  const missing = [...new Set([...apiVars, ...workerVars])].filter((v) => !documented.has(v));
  assert.deepEqual(missing, [], `not documented in infra/.env.example: ${missing.join(', ')}`);
  const { services } = resolvedCompose();
  const apiKeys = envKeys(services.api ?? {});
  assert.deepEqual(
    apiKeys.filter((k) => !apiVars.includes(k)),
    [],
    'compose gives the api variables it does not read',
  );
  for (const required of [
    'REDIS_URL',
    'SETRAIN_API_KEYS',
    'SETRAIN_ARTIFACTS_BUCKET',
    'S3_ENDPOINT',
  ]) {
    assert.ok(apiKeys.includes(required), `compose does not give the api ${required}`);
  }
  for (const [name, service] of Object.entries(services).filter(([n]) => n.startsWith('worker-'))) {
    const keys = envKeys(service);
    const unknown = keys.filter((k) => !workerVars.includes(k) && !RUNTIME_ONLY_ENV.has(k));
    assert.deepEqual(unknown, [], `compose gives ${name} variables it does not read`);
    for (const required of ['REDIS_URL', 'SETRAIN_ENGINE', 'METRICS_PORT', 'S3_ENDPOINT']) {
      assert.ok(keys.includes(required), `compose does not give ${name} ${required}`);
    }
  }
});

test('k8s manifests parse and reference images compose builds, declared ports and existing deployments', () => {
  const docs = k8sDocuments();
  const { services } = resolvedCompose();
  const images = composeImages(services);
  const kustomization = asRecord(
    parse(read(join(infra, 'k8s', 'kustomization.yaml'))),
    'kustomization',
  );
  for (const resource of kustomization.resources as string[]) {
    assert.ok(existsSync(join(infra, 'k8s', resource)), `kustomization lists missing ${resource}`);
  }
  const deployments = new Map<string, Json>();
  for (const { file, doc } of docs) {
    assert.ok(
      typeof doc.apiVersion === 'string' && typeof doc.kind === 'string',
      `${file}: no apiVersion/kind`,
    );
    if (doc.kind === 'Deployment')
      deployments.set(String(asRecord(doc.metadata, 'metadata').name), doc);
  }
  assert.ok(deployments.size >= 3, 'expected api, gpu worker and cpu worker Deployments');
  const podPorts = new Map<string, { labels: Json; ports: Set<string | number> }>();
  for (const [name, deployment] of deployments) {
    const spec = asRecord(deployment.spec, `${name} spec`);
    const template = asRecord(spec.template, `${name} template`);
    const podSpec = asRecord(template.spec, `${name} pod spec`);
    const labels = asRecord(asRecord(template.metadata, 'metadata').labels, 'labels');
    const ports = new Set<string | number>();
    for (const container of (podSpec.containers as Json[]).map((c) => asRecord(c, 'container'))) {
      const repository = String(container.image).replace(/:[^/:]+$/, '');
      const dockerfile = images.get(repository);
      assert.ok(dockerfile !== undefined, `${name}: image ${repository} is not built by compose`);
      const exposed =
        read(dockerfile)
          .match(/^EXPOSE\s+(.+)$/m)?.[1]
          ?.split(/\s+/)
          .map(Number) ?? [];
      for (const port of ((container.ports as Json[] | undefined) ?? []).map((p) =>
        asRecord(p, 'port'),
      )) {
        assert.ok(
          exposed.includes(Number(port.containerPort)),
          `${name}: port ${String(port.containerPort)} not EXPOSEd by ${relative(root, dockerfile)}`,
        );
        ports.add(Number(port.containerPort));
        if (typeof port.name === 'string') ports.add(port.name);
      }
      // Probes ask a port the container declares, for a path the services serve.
      for (const kind of ['startupProbe', 'readinessProbe', 'livenessProbe']) {
        const probe = container[kind] as Json | undefined;
        if (probe === undefined) continue;
        const get = asRecord(probe.httpGet, `${name} ${kind}.httpGet`);
        assert.ok(
          ports.has(get.port as string | number),
          `${name}: ${kind} asks port ${String(get.port)}, which the container does not declare`,
        );
        assert.ok(
          ['/healthz', '/readyz'].includes(String(get.path)),
          `${name}: ${kind} asks ${String(get.path)}`,
        );
      }
      const resources = JSON.stringify(container.resources ?? {});
      if (repository.includes('gpu')) {
        const limits = asRecord(asRecord(container.resources, 'resources').limits, 'limits');
        assert.equal(limits['nvidia.com/gpu'], 1, `${name}: a GPU pod must hold exactly one GPU`);
        assert.ok(
          Number(podSpec.terminationGracePeriodSeconds) >= 300,
          `${name}: grace period too short to checkpoint`,
        );
      } else {
        assert.ok(!resources.includes('nvidia.com/gpu'), `${name} asks for a GPU`);
      }
    }
    podPorts.set(name, { labels, ports });
  }
  for (const { file, doc } of docs) {
    if (doc.kind === 'Service') {
      const spec = asRecord(doc.spec, 'service spec');
      const selector = asRecord(spec.selector, 'selector');
      const targets = [...podPorts.values()].filter(({ labels }) =>
        Object.entries(selector).every(([k, v]) => labels[k] === v),
      );
      assert.ok(targets.length > 0, `${file}: Service selects no Deployment's pods`);
      for (const port of (spec.ports as Json[]).map((p) => asRecord(p, 'port'))) {
        const target = (port.targetPort ?? port.port) as string | number;
        for (const { ports } of targets)
          assert.ok(
            ports.has(target),
            `${file}: targetPort ${String(target)} not declared by its pods`,
          );
      }
    }
    if (doc.kind === 'ScaledObject') {
      const spec = asRecord(doc.spec, 'scaledobject spec');
      const target = String(asRecord(spec.scaleTargetRef, 'scaleTargetRef').name);
      assert.ok(deployments.has(target), `${file}: scales missing Deployment ${target}`);
      const trigger = asRecord((spec.triggers as unknown[])[0], `${file} trigger`);
      assert.equal(trigger.type, 'prometheus');
      const query = String(asRecord(trigger.metadata, `${file} trigger metadata`).query);
      assert.match(query, new RegExp(METRIC_CATALOGUE.queueJobs.name));
      assert.match(query, /prioritized/, 'KEDA must count prioritized jobs as waiting');
    }
  }
});

test('Prometheus finds workers by DNS on the compose alias and worker port; promtool accepts config and rules', () => {
  const config = asRecord(
    parse(read(join(infra, 'prometheus', 'prometheus.yml'))),
    'prometheus.yml',
  );
  const jobs = (config.scrape_configs as Json[]).map((j) => asRecord(j, 'scrape config'));
  const worker = jobs.find((j) => j.job_name === 'setrain-worker');
  assert.ok(worker !== undefined, 'no setrain-worker job');
  const dns =
    (worker.dns_sd_configs as Json[] | undefined)?.map((d) => asRecord(d, 'dns_sd_config')) ?? [];
  assert.equal(dns.length, 1, 'workers must be found by dns_sd_configs');
  assert.equal(dns[0]?.type, 'A');
  assert.deepEqual(dns[0]?.names, [WORKER_ALIAS]);
  assert.equal(dns[0]?.port, DEFAULT_WORKER_METRICS_PORT);
  const promtool = promtoolPath();
  for (const args of [
    ['check', 'config', join(infra, 'prometheus', 'prometheus.yml')],
    ['check', 'rules', join(infra, 'prometheus', 'alerts.yml')],
  ]) {
    const result = spawnSync(promtool, args, { encoding: 'utf8' });
    assert.equal(result.status, 0, `promtool ${args.join(' ')}: ${result.stdout}${result.stderr}`);
  }
});

test('dashboards are generated from infra/grafana/generate-dashboards.mjs and query only known metrics', () => {
  const result = spawnSync(
    process.execPath,
    [join(infra, 'grafana', 'generate-dashboards.mjs'), '--check'],
    {
      encoding: 'utf8',
    },
  );
  assert.equal(result.status, 0, result.stderr);
  const known = new Set<string>(Object.values(METRIC_CATALOGUE).map((m) => m.name));
  const texts = [
    ...readdirSync(join(infra, 'grafana', 'dashboards')).map((f) =>
      read(join(infra, 'grafana', 'dashboards', f)),
    ),
    read(join(infra, 'prometheus', 'alerts.yml')),
    read(join(infra, 'k8s', 'keda-scaledobject.yaml')),
  ];
  for (const text of texts) {
    for (const [name] of text.matchAll(/\bsetrain_[a-z_]+\b/g)) {
      const base = name.replace(/_(bucket|sum|count)$/, '');
      assert.ok(known.has(name) || known.has(base), `${name} is not in the metric catalogue`);
    }
  }
  for (const file of readdirSync(join(infra, 'grafana', 'provisioning'), {
    recursive: true,
    encoding: 'utf8',
  })) {
    const path = join(infra, 'grafana', 'provisioning', file);
    if (statSync(path).isFile()) assert.doesNotThrow(() => parse(read(path)), file);
  }
});

test('shellcheck passes on every shell script in the repository', () => {
  const shellcheck = requireBinary('shellcheck', 'shellcheck');
  const tracked = execFileSync('git', ['ls-files', '*.sh'], { cwd: root, encoding: 'utf8' })
    .split('\n')
    .filter((f) => f !== '');
  const untracked = execFileSync('git', ['ls-files', '--others', '--exclude-standard', '*.sh'], {
    cwd: root,
    encoding: 'utf8',
  })
    .split('\n')
    .filter((f) => f !== '');
  const scripts = [...new Set([...tracked, ...untracked, '.ci/run'])].filter((f) =>
    existsSync(join(root, f)),
  );
  assert.ok(scripts.length >= 3);
  const result = spawnSync(shellcheck, scripts, { cwd: root, encoding: 'utf8' });
  assert.equal(result.status, 0, result.stdout + result.stderr);
});
