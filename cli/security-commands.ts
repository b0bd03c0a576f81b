/**
 * Security commands of the CLI:
 * - `bellwether audit verify [--file F]`   walk the audit log's hash chain (exit 1 when broken)
 * - `bellwether keys create --role R --name N`   a new API key and its BW_API_KEYS_FILE line
 * - `bellwether dlq read|replay …`   dead letters (cli/dlq-commands.ts)
 */
import { parseArgs } from 'node:util';
import { BellwetherError } from '../contract/errors.js';
import { loadConfig } from '../engine/config.js';
import { createApiKey, ROLES, type Role } from '../security/api-keys.js';
import { verifyAuditChain } from '../security/audit-log.js';

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

export async function runSecurityCommand(command: string, args: string[]): Promise<void> {
  if (command === 'audit') return auditCommand(args);
  if (command === 'keys') return keysCommand(args);
  const { dlqCommand } = await import('./dlq-commands.js');
  return dlqCommand(args);
}
