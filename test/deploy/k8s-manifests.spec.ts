import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';

import { Environment, validateEnvironment } from '../../src/config/environment';
import { projectRoot } from '../support/project-root';

const K8S = join(projectRoot(), 'deploy', 'k8s');

/** The secret variables (and the URLs that embed credentials): only ever in the Secret. */
const SECRET_VARIABLES = [
  'AUTH_CLIENT_SECRET',
  'STEAM_API_KEY',
  'ADMIN_PASSWORD',
  'RABBITMQ_URL',
  'REDIS_URL',
  'STEAM_PROXIES',
];
const SECRET_LOOKING = /SECRET|PASSWORD|KEY|TOKEN/;

/** The worker's own limit on its draining: SHUTDOWN_GRACE_MS, then a backstop exit within 5 s (docs/contract.md#shutdown). */
const SHUTDOWN_BACKSTOP_S = 5;
/** docs/benchmarks.md, part (c): the bound on a worker's peak RSS with the image's flags. */
const BENCH_PEAK_RSS_BOUND = 200_000_000;

interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
  [field: string]: unknown;
}
interface Probe {
  httpGet?: { path: string; port: string | number };
}
interface Container {
  name: string;
  image: string;
  ports: { name: string; containerPort: number }[];
  envFrom: { configMapRef?: { name: string }; secretRef?: { name: string } }[];
  startupProbe?: Probe;
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  resources: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext: Record<string, unknown>;
  volumeMounts?: { name: string; mountPath: string }[];
}
interface PodSpec {
  terminationGracePeriodSeconds: number;
  securityContext: Record<string, unknown>;
  containers: Container[];
  volumes?: { name: string; emptyDir?: object }[];
}
interface DeploymentManifest extends Manifest {
  spec: {
    replicas: number;
    selector: { matchLabels: Record<string, string> };
    template: { metadata: { labels: Record<string, string> }; spec: PodSpec };
  };
}

function loadManifests(): Manifest[] {
  const kustomization = parse(readFileSync(join(K8S, 'kustomization.yaml'), 'utf8')) as { resources: string[] };
  return kustomization.resources.flatMap((file) =>
    parseAllDocuments(readFileSync(join(K8S, file), 'utf8')).map((document) => document.toJS() as Manifest),
  );
}

const manifests = loadManifests();
const one = <T extends Manifest = Manifest>(kind: string): T => {
  const found = manifests.filter((manifest) => manifest.kind === kind);
  if (found.length !== 1) throw new Error(`expected one ${kind}, found ${found.length}`);
  return found[0] as T;
};
const deployment = one<DeploymentManifest>('Deployment');
const pod = deployment.spec.template.spec;
const [container] = pod.containers;
const configMap = one<Manifest & { data: Record<string, string> }>('ConfigMap').data;
const secret = one<Manifest & { stringData: Record<string, string>; data?: unknown }>('Secret');

/** Kubernetes memory quantities the manifests use: plain bytes, Mi, Gi, M, G. */
function bytesOf(quantity: string): number {
  const [, amount, unit = ''] = /^(\d+)(Mi|Gi|M|G)?$/.exec(quantity) ?? [];
  const scale: Record<string, number> = { '': 1, M: 1e6, G: 1e9, Mi: 2 ** 20, Gi: 2 ** 30 };
  if (amount === undefined) throw new Error(`unreadable quantity ${quantity}`);
  return Number(amount) * scale[unit];
}

describe('the Kubernetes manifests in deploy/k8s', () => {
  it('list a Deployment, ConfigMap, Secret, Service, PodDisruptionBudget, ServiceMonitor and PrometheusRule', () => {
    expect(manifests.map((manifest) => manifest.kind).sort()).toEqual([
      'ConfigMap',
      'Deployment',
      'PodDisruptionBudget',
      'PrometheusRule',
      'Secret',
      'Service',
      'ServiceMonitor',
    ]);
  });

  describe('validated against the Kubernetes schemas (kubernetes-models)', () => {
    // ESM-only package: imported at run time from this CommonJS module.
    let models: Record<string, new (data: object) => { validate(): void }>;
    beforeAll(async () => {
      const [core, apps, policy] = await Promise.all([
        import('kubernetes-models/v1'),
        import('kubernetes-models/apps/v1'),
        import('kubernetes-models/policy/v1'),
      ]);
      models = {
        ConfigMap: core.ConfigMap,
        Secret: core.Secret,
        Service: core.Service,
        Deployment: apps.Deployment,
        PodDisruptionBudget: policy.PodDisruptionBudget,
      };
    });

    it.each(['ConfigMap', 'Secret', 'Service', 'Deployment', 'PodDisruptionBudget'])('%s', (kind) => {
      const Model = models[kind];

      expect(() => new Model(one(kind)).validate()).not.toThrow();
    });

    it('and the validation does catch a malformed manifest', () => {
      const broken = structuredClone(deployment);
      (broken.spec.template.spec.containers[0].ports[0] as { containerPort: unknown }).containerPort = 'http';

      expect(() => new models.Deployment(broken).validate()).toThrow(/containerPort/);
    });
  });

  it('run two replicas for availability', () => {
    expect(deployment.spec.replicas).toBe(2);
    expect(deployment.spec.template.metadata.labels).toMatchObject(deployment.spec.selector.matchLabels);
  });

  it('probe liveness at /health, readiness at /health/ready, and the start at /health', () => {
    expect(container.livenessProbe?.httpGet).toEqual({ path: '/health', port: 'http' });
    expect(container.readinessProbe?.httpGet).toEqual({ path: '/health/ready', port: 'http' });
    expect(container.startupProbe?.httpGet).toEqual({ path: '/health', port: 'http' });
  });

  it('expose HTTP_PORT as the container port named http', () => {
    const httpPort = Number(configMap.HTTP_PORT ?? new Environment().HTTP_PORT);

    expect(container.ports).toEqual([expect.objectContaining({ name: 'http', containerPort: httpPort })]);
  });

  it(`give the pod more than SHUTDOWN_GRACE_MS + ${SHUTDOWN_BACKSTOP_S} s before SIGKILL`, () => {
    const graceMs = Number(configMap.SHUTDOWN_GRACE_MS ?? new Environment().SHUTDOWN_GRACE_MS);

    expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(graceMs / 1000 + SHUTDOWN_BACKSTOP_S);
  });

  it('request CPU and memory, and limit memory above the benchmark’s peak RSS', () => {
    expect(container.resources.requests).toEqual({ cpu: expect.any(String), memory: expect.any(String) });
    const limit = bytesOf(container.resources.limits?.memory ?? '0');

    expect(limit).toBeGreaterThan(BENCH_PEAK_RSS_BOUND);
    expect(limit).toBeGreaterThanOrEqual(bytesOf(container.resources.requests?.memory ?? '0'));
  });

  it('run as uid and gid 1000, non-root, read-only, without privileges or capabilities', () => {
    const identity = { runAsNonRoot: true, runAsUser: 1000, runAsGroup: 1000 };

    expect(pod.securityContext).toMatchObject({ ...identity, seccompProfile: { type: 'RuntimeDefault' } });
    expect(container.securityContext).toMatchObject({
      ...identity,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
    });
    const tmp = container.volumeMounts?.find((mount) => mount.mountPath === '/tmp');
    expect(pod.volumes?.find((volume) => volume.name === tmp?.name)?.emptyDir).toBeDefined();
  });

  it('take the environment from the ConfigMap and the Secret', () => {
    expect(container.envFrom).toEqual([
      { configMapRef: { name: one('ConfigMap').metadata.name } },
      { secretRef: { name: secret.metadata.name } },
    ]);
  });

  it('keep every secret out of the ConfigMap', () => {
    const leaked = Object.keys(configMap).filter((name) => SECRET_VARIABLES.includes(name) || SECRET_LOOKING.test(name));

    expect(leaked).toEqual([]);
    expect(Object.values(configMap).filter((value) => /\/\/[^/@\s]*:[^/@\s]*@/.test(value))).toEqual([]);
  });

  it('put only secret variables in the Secret, as stringData placeholders', () => {
    expect(secret.data).toBeUndefined();
    expect(Object.keys(secret.stringData).filter((name) => !SECRET_VARIABLES.includes(name))).toEqual([]);
  });

  it('name only variables the worker reads, and together make a configuration it accepts', () => {
    const known = Object.keys(new Environment());
    const named = [...Object.keys(configMap), ...Object.keys(secret.stringData)];

    expect(named.filter((name) => !known.includes(name))).toEqual([]);
    expect(() => validateEnvironment({ ...configMap, ...secret.stringData })).not.toThrow();
  });

  it('select the Deployment’s pods from the Service, the PodDisruptionBudget and the ServiceMonitor', () => {
    const podLabels = deployment.spec.template.metadata.labels;
    const service = one<Manifest & { spec: { selector: Record<string, string>; ports: { targetPort: string }[] } }>(
      'Service',
    );
    const budget = one<Manifest & { spec: { selector: { matchLabels: Record<string, string> } } }>(
      'PodDisruptionBudget',
    );

    expect(podLabels).toMatchObject(service.spec.selector);
    expect(service.spec.ports).toEqual([expect.objectContaining({ name: 'http', targetPort: 'http' })]);
    expect(podLabels).toMatchObject(budget.spec.selector.matchLabels);
    expect(budget.spec).toSatisfy(
      (spec: { minAvailable?: number; maxUnavailable?: number }) => spec.minAvailable === 1 || spec.maxUnavailable === 1,
    );
  });

  it('have the ServiceMonitor scrape /metrics on the port named http', () => {
    const monitor = one<Manifest & { spec: { selector: { matchLabels: Record<string, string> }; endpoints: object[] } }>(
      'ServiceMonitor',
    );

    expect(monitor.apiVersion).toBe('monitoring.coreos.com/v1');
    expect(one('Service').metadata.labels).toMatchObject(monitor.spec.selector.matchLabels);
    expect(monitor.spec.endpoints).toEqual([expect.objectContaining({ port: 'http', path: '/metrics' })]);
  });

  it('carry in the PrometheusRule the same groups as deploy/prometheus/steam-worker.rules.yml', () => {
    const rule = one<Manifest & { spec: { groups: unknown } }>('PrometheusRule');
    const rules = parse(readFileSync(join(K8S, '..', 'prometheus', 'steam-worker.rules.yml'), 'utf8')) as {
      groups: unknown;
    };

    expect(rule.apiVersion).toBe('monitoring.coreos.com/v1');
    expect(rule.spec.groups).toEqual(rules.groups);
  });

  const kubectl = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8' });
  it.skipIf(kubectl.status !== 0)('build with kubectl kustomize', () => {
    const build = spawnSync('kubectl', ['kustomize', K8S], { encoding: 'utf8', timeout: 30_000 });

    expect(build.status, build.stderr).toBe(0);
    const built = parseAllDocuments(build.stdout).map((document) => document.toJS() as DeploymentManifest);
    expect(built.map((manifest) => manifest.kind).sort()).toEqual(manifests.map((manifest) => manifest.kind).sort());
    const image = built.find((manifest) => manifest.kind === 'Deployment')?.spec.template.spec.containers[0].image;
    expect(image).toMatch(/^steam-worker:\S+$/);
  });
});
