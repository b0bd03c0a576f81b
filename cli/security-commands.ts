/**
 * Security commands of the CLI:
 * - `bellwether audit verify [--file F]`   walk the audit log's hash chain (exit 1 when broken)
 * - `bellwether keys create --role R --name N`   a new API key and its BW_API_KEYS_FILE line
 * - `bellwether dlq read [--limit N] [--nats-url URL]`   dead letters with their bodies opened
 */
import { parseArgs } from 'node:util';
import { jetstream } from '@nats-io/jetstream';
import { BellwetherError } from '../contract/errors.js';
import { loadConfig } from '../engine/config.js';
import { DLQ_STREAM } from '../engine/nats/streams.js';
import { connectNats } from '../lib/nats-connect.js';
import { natsSettingsOf } from '../lib/nats-connect-options.js';
import { createApiKey, ROLES, type Role } from '../security/api-keys.js';
import { verifyAuditChain } from '../security/audit-log.js';
import { openDeadLetterBody } from '../security/pii-cipher.js';
import { loadKeyring } from '../security/pii-keyring.js';

async function auditCommand(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    options: { file: { type: 'string' } },
    allowPositionals: true,
  });
  if (positionals[0] !== 'verify') throw new BellwetherError('BW_ERR_CLI_USAGE', 'audit verify [--file F]');
  const file = values.file ?? loadConfig(process.env).auditFile!;
  const result = await verifyAuditChain(file);
  process.stdout.write(`${JSON.stringify({ file, ...result })}\n`);
  if (!result.ok) {
    throw new BellwetherError(
      'BW_ERR_AUDIT_CHAIN',
      `${result.broken?.file ?? file}: line ${result.broken?.line}: ${result.broken?.reason}`,
    );
  }
}

function keysCommand(args: string[]): void {
  const { values, positionals } = parseArgs({
    args,
    options: { role: { type: 'string' }, name: { type: 'string' } },
    allowPositionals: true,
  });
  const role = values.role as Role | undefined;
  if (positionals[0] !== 'create' || !values.name || !role || !ROLES.includes(role)) {
    throw new BellwetherError('BW_ERR_CLI_USAGE', `keys create --role ${ROLES.join('|')} --name NAME`);
  }
  const { key, line } = createApiKey(values.name, role);
  process.stdout.write(`${JSON.stringify({ name: values.name, role, key, api_keys_file_line: line })}\n`);
}

async function dlqCommand(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    options: { limit: { type: 'string' }, 'nats-url': { type: 'string' } },
    allowPositionals: true,
  });
  if (positionals[0] !== 'read') throw new BellwetherError('BW_ERR_CLI_USAGE', 'dlq read [--limit N]');
  const config = loadConfig(process.env);
  const { keyring } = await loadKeyring({
    cipher: config.piiCipher,
    key: config.piiKey,
    keyFile: config.piiKeyFile,
    dataDir: config.dataDir,
  });
  const limit = values.limit === undefined ? Number.POSITIVE_INFINITY : Number(values.limit);
  const natsUrl = values['nats-url'] ?? config.natsUrl ?? `nats://127.0.0.1:${config.natsPort}`;
  const nc = await connectNats(natsSettingsOf(config, natsUrl), { name: 'bellwether-dlq' });
  try {
    const consumer = await jetstream(nc).consumers.get(DLQ_STREAM);
    let n = 0;
    while (n < limit) {
      const m = await consumer.next({ expires: 1000 });
      if (!m) break;
      n++;
      const h = (name: string) => m.headers?.get(name) ?? null;
      let body: string;
      try {
        body = h('Bw-Sealed')
          ? openDeadLetterBody(keyring, m.string(), Number(h('Bw-Stream-Seq')), h('Bw-Stream')).toString(
              'utf8',
            )
          : m.string();
      } catch (err) {
        body = `<sealed: ${(err as Error).message}>`;
      }
      process.stdout.write(
        `${JSON.stringify({ seq: m.seq, subject: m.subject, stream: h('Bw-Stream'), stream_seq: Number(h('Bw-Stream-Seq')), reason: h('Bw-Reason'), error: h('Bw-Error'), body })}\n`,
      );
    }
  } finally {
    await nc.close();
  }
}

export async function runSecurityCommand(command: string, args: string[]): Promise<void> {
  if (command === 'audit') return auditCommand(args);
  if (command === 'keys') return keysCommand(args);
  return dlqCommand(args);
}
