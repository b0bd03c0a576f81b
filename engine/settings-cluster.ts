/**
 * Settings of the connection to an external NATS (credentials, TLS; docs/nats-security.md) and of
 * running several instances as one cluster (docs/cluster.md). The password is read from the
 * environment only. One entry per setting (engine/settings-spec.ts).
 */
import os from 'node:os';
import { Type } from '@sinclair/typebox';
import type { SettingSpec } from './settings-spec.js';

const INSTANCE_ID = '^[-\\w=]+(\\.[-\\w=]+)*$';

export const CLUSTER_SETTINGS = {
  natsCreds: {
    env: 'BW_NATS_CREDS',
    flag: 'nats-creds',
    schema: Type.Optional(Type.String({ minLength: 1 })),
    isPath: true,
    defaultText: 'unset',
    help: 'NATS `.creds` file (user JWT and seed) of an external server',
  },
  natsUser: {
    env: 'BW_NATS_USER',
    flag: 'nats-user',
    schema: Type.Optional(Type.String({ minLength: 1 })),
    defaultText: 'unset',
    help: 'NATS user of an external server (with `BW_NATS_PASSWORD`)',
  },
  natsPassword: {
    env: 'BW_NATS_PASSWORD',
    secret: true,
    schema: Type.Optional(Type.String({ minLength: 1 })),
    defaultText: 'unset',
    help: 'password of `BW_NATS_USER`',
  },
  natsNkeySeedFile: {
    env: 'BW_NATS_NKEY_SEED_FILE',
    flag: 'nats-nkey-seed-file',
    schema: Type.Optional(Type.String({ minLength: 1 })),
    isPath: true,
    defaultText: 'unset',
    help: 'file holding an NKEY user seed (`SU…`) for an external server',
  },
  natsTlsCa: {
    env: 'BW_NATS_TLS_CA',
    flag: 'nats-tls-ca',
    schema: Type.Optional(Type.String({ minLength: 1 })),
    isPath: true,
    defaultText: 'unset (Node’s roots)',
    help: 'PEM file of the CA(s) that signed the NATS server certificate',
  },
  natsTlsCert: {
    env: 'BW_NATS_TLS_CERT',
    flag: 'nats-tls-cert',
    schema: Type.Optional(Type.String({ minLength: 1 })),
    isPath: true,
    defaultText: 'unset',
    help: 'PEM client certificate, for servers that verify clients (with `BW_NATS_TLS_KEY`)',
  },
  natsTlsKey: {
    env: 'BW_NATS_TLS_KEY',
    flag: 'nats-tls-key',
    schema: Type.Optional(Type.String({ minLength: 1 })),
    isPath: true,
    defaultText: 'unset',
    help: 'PEM private key of `BW_NATS_TLS_CERT`',
  },
  instanceId: {
    env: 'BW_INSTANCE_ID',
    flag: 'instance-id',
    schema: Type.String({ minLength: 1, maxLength: 128, pattern: INSTANCE_ID }),
    computeDefault: () => `${os.hostname().replace(/[^-\w=]/g, '_') || 'host'}-${process.pid}`,
    defaultText: '`<host>-<pid>`',
    expects: 'letters, digits, `-`, `_`, `=` in dot-separated tokens',
    help: 'this instance’s name in the cluster (leases, `/v1/info`)',
  },
  leaseSeconds: {
    env: 'BW_LEASE_SECONDS',
    flag: 'lease-seconds',
    schema: Type.Number({ minimum: 1, maximum: 600, default: 10 }),
    help: 'partition lease time: an instance that stops renewing loses its partitions after this long (kill -9 → takeover)',
  },
  replicas: {
    env: 'BW_REPLICAS',
    flag: 'replicas',
    schema: Type.Integer({ minimum: 1, maximum: 5, default: 1 }),
    help: 'replicas of every stream, KV bucket and object store the engine creates (3 on a 3-node NATS cluster)',
  },
} as const satisfies Record<string, SettingSpec>;
