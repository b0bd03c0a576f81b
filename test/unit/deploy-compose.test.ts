/**
 * deploy/docker-compose.yml and deploy/nats/ cannot run here (no Docker engine), so this checks what can be
 * checked without one: the compose file parses (with the YAML merge keys compose reads), the files
 * it mounts exist or are written by deploy/secrets.sh, every variable the NATS configuration takes
 * from the environment reaches the NATS services, the engines list every node and share the
 * settings a cluster needs, the engine users' permissions are docs/nats-security.md's engine block,
 * the mapping is contract/subjects.ts's for BW_PARTITIONS, and nats-server accepts each node's
 * configuration (`nats-server -t`).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { partitionMapping } from '../../contract/subjects.js';
import { PACKAGE_ROOT } from '../../lib/paths.js';

interface Service {
  image?: string;
  build?: { context: string };
  command?: string[];
  environment?: Record<string, string>;
  volumes?: string[];
  ports?: string[];
  secrets?: string[];
  profiles?: string[];
  stop_grace_period?: string;
  healthcheck?: { test: string[] };
}

interface Compose {
  services: Record<string, Service>;
  secrets: Record<string, { file: string }>;
  volumes: Record<string, unknown>;
}

const read = (file: string): string => readFileSync(path.join(PACKAGE_ROOT, file), 'utf8');
const compose = parse(read('deploy/docker-compose.yml'), { merge: true }) as Compose;
const services = Object.entries(compose.services);
const natsServices = services.filter(([, s]) => s.image?.startsWith('nats:'));
const engines = services.filter(([, s]) => s.build !== undefined);
const natsDir = path.join(PACKAGE_ROOT, 'deploy', 'nats');
const natsConfig = ['cluster.conf', 'accounts.conf'].map((f) => readFileSync(path.join(natsDir, f), 'utf8'));

interface Permissions {
  publish: string[];
  subscribe: string[];
  allowResponses: boolean;
}

function permissionsIn(text: string): Permissions {
  const list = (verb: string) =>
    JSON.parse(new RegExp(`${verb}: \\{ allow: (\\[[^\\]]*\\]) \\}`).exec(text)![1]!) as string[];
  return {
    publish: list('publish'),
    subscribe: list('subscribe'),
    allowResponses: /allow_responses: true/.test(text),
  };
}

/** The engine block of docs/nats-security.md (as test/integration/nats-permissions.test.ts reads it). */
function documentedEngine(): Permissions {
  const block = read('docs/nats-security.md').split('<!-- engine-permissions:')[1]!.split('```')[1]!;
  return permissionsIn(block);
}

/** Each user of deploy/nats/accounts.conf with its password variable and permissions text. */
function accountUsers(): Map<string, string> {
  const users = new Map<string, string>();
  const accounts = natsConfig[1]!;
  const starts = [...accounts.matchAll(/user: ([-\w]+)/g)];
  starts.forEach((m, i) => {
    users.set(m[1]!, accounts.slice(m.index, starts[i + 1]?.index ?? accounts.length));
  });
  return users;
}

/** Variables the NATS configuration takes from the environment (`$NAME` outside quotes). */
function environmentVariables(): string[] {
  const names = new Set<string>();
  for (const text of natsConfig) {
    for (const line of text.split('\n')) {
      const code = line.replace(/#.*$/, '').replace(/"[^"]*"/g, '');
      for (const m of code.matchAll(/\$([A-Z_][A-Z0-9_]*)/g)) names.add(m[1]!);
    }
  }
  return [...names].sort();
}

describe('deploy/docker-compose.yml and deploy/', () => {
  it('has three NATS nodes, each with its configuration file and store, and two engines', () => {
    expect(natsServices.map(([name]) => name)).toEqual(['nats-1', 'nats-2', 'nats-3']);
    for (const [name, s] of natsServices) {
      const config = s.command![s.command!.indexOf('--config') + 1]!;
      expect(config).toBe(`/etc/nats/${name}.conf`);
      expect(existsSync(path.join(natsDir, path.basename(config)))).toBe(true);
      expect(readFileSync(path.join(natsDir, `${name}.conf`), 'utf8')).toMatch(
        new RegExp(`server_name: ${name}\\ninclude ./cluster.conf`),
      );
      expect(s.volumes).toEqual(['./nats:/etc/nats:ro', `${name}:/data`]);
      expect(natsConfig[0]).toContain(`"nats-route://${name}:6222"`);
    }
    expect(engines.map(([name]) => name)).toEqual(['engine-a', 'engine-b']);
    for (const [, s] of engines) {
      expect(s.build).toEqual({ context: '..' });
      expect(existsSync(path.join(PACKAGE_ROOT, 'Dockerfile'))).toBe(true);
      expect(s.healthcheck?.test.join(' ')).toContain('http://127.0.0.1:8080/healthz');
      expect(Number.parseInt(s.stop_grace_period!, 10)).toBeGreaterThan(30);
    }
  });

  it('gives every engine the cluster settings, its own id and a NATS user of accounts.conf', () => {
    const users = accountUsers();
    const nodes = natsServices.map(([name]) => `nats://${name}:4222`).join(',');
    const ids = new Set<string>();
    for (const [, s] of engines) {
      const env = s.environment!;
      expect(env['BW_NATS_URL']).toBe(nodes);
      expect(env['BW_REPLICAS']).toBe('3');
      expect(env['BW_PARTITIONS']).toBe('16');
      expect(env['BW_API_KEYS_FILE']).toBe('/run/secrets/api-keys');
      expect(env['BW_PII_KEY_FILE']).toBe('/run/secrets/pii-key');
      expect(s.secrets).toEqual(['api-keys', 'pii-key']);
      ids.add(env['BW_INSTANCE_ID']!);
      expect(users.has(env['BW_NATS_USER']!)).toBe(true);
      const variable = /password: \$(\w+)/.exec(users.get(env['BW_NATS_USER']!)!)![1]!;
      expect(env['BW_NATS_PASSWORD']).toMatch(new RegExp(`^\\$\\{${variable}:\\?`));
    }
    expect(ids.size).toBe(engines.length);
    // Exactly one engine runs the simulated feed, as a user with the producer entries.
    const feeding = engines.filter(([, s]) => s.environment!['BW_SIMULATE'] !== undefined);
    expect(feeding).toHaveLength(1);
    expect(permissionsIn(users.get(feeding[0]![1].environment!['BW_NATS_USER']!)!).publish).toEqual(
      expect.arrayContaining(['bw.events.>', 'bw.part.>']),
    );
  });

  it('maps events to the partitions as contract/subjects.ts does, for BW_PARTITIONS', () => {
    const partitions = Number(engines[0]![1].environment!['BW_PARTITIONS']);
    const mapping = partitionMapping(partitions);
    expect(natsConfig[1]).toContain(`${JSON.stringify(mapping.from)}: ${JSON.stringify(mapping.to)}`);
    expect(natsConfig[1]).toMatch(/jetstream: enabled/);
  });

  it('gives the engine users exactly the permissions docs/nats-security.md documents', () => {
    const documented = documentedEngine();
    expect(documented.allowResponses).toBe(true);
    const users = accountUsers();
    expect(permissionsIn(users.get('engine')!)).toEqual(documented);
    // The engine list holds the producer entries (identity resolution forwards events): the feeding
    // engine needs nothing more.
    expect(documented.publish).toEqual(expect.arrayContaining(['bw.events.>', 'bw.part.>']));
    expect(permissionsIn(users.get('engine-feed')!)).toEqual(documented);
  });

  it('hands every variable of the NATS configuration to the NATS services, written by deploy/secrets.sh', () => {
    const needed = environmentVariables();
    expect(needed).toEqual([
      'NATS_ADMIN_PASSWORD',
      'NATS_ENGINE_FEED_PASSWORD',
      'NATS_ENGINE_PASSWORD',
      'NATS_JETSTREAM_KEY',
      'NATS_PRODUCER_PASSWORD',
    ]);
    const script = read('deploy/secrets.sh');
    for (const [, s] of natsServices) {
      expect(Object.keys(s.environment!).sort()).toEqual(needed);
      for (const name of needed)
        expect(s.environment![name]).toBe(`\${${name}:?run sh deploy/secrets.sh first}`);
    }
    for (const name of needed) expect(script).toContain(`echo "${name}=$(secret `);
    for (const { file } of Object.values(compose.secrets)) {
      expect(file.startsWith('./secrets/')).toBe(true);
      expect(script).toContain(`>${file.slice(2)}`);
    }
  });

  it('publishes no host port twice and declares every named volume', () => {
    const published = services.flatMap(([, s]) => (s.ports ?? []).map((p) => p.split(':')[0]));
    expect(new Set(published).size).toBe(published.length);
    for (const [, s] of services) {
      for (const v of s.volumes ?? []) {
        const source = v.split(':')[0]!;
        if (!source.startsWith('.')) expect(compose.volumes).toHaveProperty(source);
        else expect(existsSync(path.join(PACKAGE_ROOT, 'deploy', source)), v).toBe(true);
      }
    }
  });

  it('each node configuration is accepted by nats-server', () => {
    const env = Object.fromEntries(environmentVariables().map((name) => [name, `bw-${name.toLowerCase()}`]));
    for (const [name] of natsServices) {
      const run = spawnSync('nats-server', ['-c', path.join(natsDir, `${name}.conf`), '-t'], {
        env: { ...process.env, ...env },
        encoding: 'utf8',
      });
      expect(run.stderr).toContain(`configuration file ${path.join(natsDir, `${name}.conf`)} is valid`);
      expect(run.status).toBe(0);
    }
  });

  it('runs Prometheus with the rules and a viewer key, and Grafana with the dashboard provisioned', () => {
    const prometheus = compose.services['prometheus']!;
    expect(prometheus.volumes).toEqual(
      expect.arrayContaining([
        './prometheus/prometheus.yml:/etc/prometheus/prometheus.yml:ro',
        './prometheus/rules.yml:/etc/prometheus/rules.yml:ro',
      ]),
    );
    expect(prometheus.secrets).toEqual(['prometheus-token']);
    const scrape = parse(read('deploy/prometheus/prometheus.yml')) as {
      rule_files: string[];
      scrape_configs: {
        authorization: { credentials_file: string };
        static_configs: { targets: string[] }[];
      }[];
    };
    expect(scrape.rule_files).toEqual(['/etc/prometheus/rules.yml']);
    expect(scrape.scrape_configs[0]!.authorization.credentials_file).toBe('/run/secrets/prometheus-token');
    expect(scrape.scrape_configs[0]!.static_configs[0]!.targets).toEqual(
      engines.map(([name]) => `${name}:8080`),
    );
    // The token is a viewer key (metrics, no customer data) whose hash deploy/secrets.sh adds to api-keys.
    expect(read('deploy/secrets.sh')).toContain("printf 'prometheus viewer sha256:%s");
    const grafana = compose.services['grafana']!;
    expect(grafana.volumes).toEqual(
      expect.arrayContaining([
        './grafana/provisioning:/etc/grafana/provisioning:ro',
        './grafana/dashboards:/var/lib/grafana/dashboards:ro',
      ]),
    );
    const datasources = parse(read('deploy/grafana/provisioning/datasources/prometheus.yml')) as {
      datasources: { uid: string; url: string }[];
    };
    expect(datasources.datasources[0]).toMatchObject({ uid: 'prometheus', url: 'http://prometheus:9090' });
    const providers = parse(read('deploy/grafana/provisioning/dashboards/bellwether.yml')) as {
      providers: { options: { path: string } }[];
    };
    expect(providers.providers[0]!.options.path).toBe('/var/lib/grafana/dashboards');
    const dashboard = JSON.parse(read('deploy/grafana/dashboards/bellwether.json')) as {
      panels: { datasource?: { uid: string } }[];
    };
    for (const panel of dashboard.panels)
      if (panel.datasource) expect(panel.datasource.uid).toBe('prometheus');
  });
});
