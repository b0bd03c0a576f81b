/**
 * API keys and roles. A key is a random bearer token; the engine keeps only its SHA-256 (a key has
 * 256 bits of entropy, so a fast hash is enough: there is nothing to brute-force), the key's name
 * (who, in the audit log) and its role.
 *
 * - BW_API_KEYS: `key:role[:name],...` (the keys themselves; for development and tests), each at
 *   least 16 characters and above the entropy bar of key-strength.ts (BW_ERR_KEY_WEAK);
 * - BW_API_KEYS_FILE: one key per line, `name role sha256:<64 hex>` (hashes only; `#` comments),
 *   as printed by `bellwether keys create`.
 */
import { createHash, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { BellwetherError } from '../contract/errors.js';
import { keySymbols, requireStrongKey } from './key-strength.js';

export const ROLES = ['viewer', 'analyst', 'admin', 'service'] as const;
export type Role = (typeof ROLES)[number];

/** What a route or a view asks of the caller's role. */
export type Permission =
  | 'read' // scores, features, segments, analytics, models, info, docs
  | 'metrics'
  | 'pii_masked'
  | 'pii_plain'
  | 'export'
  | 'models_reload'
  | 'rules_write' // PUT and DELETE /v1/rules/:id: edit the rules file
  | 'aggregate'; // GET /v1/aggregate and /v1/aggregate/daily: population-wide aggregates

const ROLE_PERMISSIONS: Readonly<Record<Role, ReadonlySet<Permission>>> = {
  viewer: new Set(['read', 'metrics']),
  analyst: new Set(['read', 'metrics', 'pii_masked', 'export', 'aggregate']),
  admin: new Set([
    'read',
    'metrics',
    'pii_masked',
    'pii_plain',
    'export',
    'models_reload',
    'rules_write',
    'aggregate',
  ]),
  service: new Set(['read', 'metrics', 'export', 'models_reload', 'aggregate']),
};

export function allows(role: Role, permission: Permission): boolean {
  return ROLE_PERMISSIONS[role].has(permission);
}

export interface Principal {
  /** The key's name: who, in the audit log. */
  name: string;
  role: Role;
}

const NAME = /^[A-Za-z0-9_.@-]{1,64}$/;
const MIN_KEY_LENGTH = 16;

export function hashKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

function roleOf(text: string, where: string): Role {
  if (!(ROLES as readonly string[]).includes(text)) {
    throw new BellwetherError('BW_ERR_API_KEYS', `${where}: role must be one of ${ROLES.join(', ')}`);
  }
  return text as Role;
}

export class ApiKeys {
  readonly #byHash = new Map<string, Principal>();

  get size(): number {
    return this.#byHash.size;
  }

  add(hash: string, principal: Principal, where: string): void {
    if (!/^[0-9a-f]{64}$/.test(hash))
      throw new BellwetherError('BW_ERR_API_KEYS', `${where}: malformed hash`);
    if (!NAME.test(principal.name)) {
      throw new BellwetherError('BW_ERR_API_KEYS', `${where}: name must match ${NAME}`);
    }
    for (const p of this.#byHash.values()) {
      if (p.name === principal.name) {
        throw new BellwetherError('BW_ERR_API_KEYS', `${where}: name ${principal.name} repeats`);
      }
    }
    if (this.#byHash.has(hash)) throw new BellwetherError('BW_ERR_API_KEYS', `${where}: the same key twice`);
    this.#byHash.set(hash, principal);
  }

  /** The principal of a presented key, or undefined. */
  lookup(key: string): Principal | undefined {
    return this.#byHash.get(hashKey(key));
  }

  /** `key:role[:name],...` (BW_API_KEYS). Errors never echo a key. */
  static parseInline(text: string, into = new ApiKeys()): ApiKeys {
    text
      .split(',')
      .map((e) => e.trim())
      .filter((e) => e !== '')
      .forEach((entry, i) => {
        const where = `BW_API_KEYS entry ${i + 1}`;
        const [key = '', role = '', name] = entry.split(':');
        if (key.length < MIN_KEY_LENGTH) {
          throw new BellwetherError(
            'BW_ERR_API_KEYS',
            `${where}: a key needs at least ${MIN_KEY_LENGTH} characters`,
          );
        }
        requireStrongKey(keySymbols(key), where);
        const hash = hashKey(key);
        into.add(hash, { name: name ?? `key-${hash.slice(0, 8)}`, role: roleOf(role, where) }, where);
      });
    return into;
  }

  /** Lines `name role sha256:<hex>` (BW_API_KEYS_FILE). */
  static parseFile(text: string, file: string, into = new ApiKeys()): ApiKeys {
    text.split('\n').forEach((raw, i) => {
      const line = raw.trim();
      if (line === '' || line.startsWith('#')) return;
      const where = `${file}:${i + 1}`;
      const [name = '', role = '', hash = '', ...rest] = line.split(/\s+/);
      if (rest.length > 0 || !hash.startsWith('sha256:')) {
        throw new BellwetherError('BW_ERR_API_KEYS', `${where}: expected "name role sha256:<hex>"`);
      }
      into.add(hash.slice(7), { name, role: roleOf(role, where) }, where);
    });
    return into;
  }
}

export async function loadApiKeys(inline: string | undefined, file: string | undefined): Promise<ApiKeys> {
  const keys = new ApiKeys();
  if (inline) ApiKeys.parseInline(inline, keys);
  if (file) {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      throw new BellwetherError('BW_ERR_API_KEYS', `cannot read ${file}`, { cause: err });
    }
    ApiKeys.parseFile(text, file, keys);
  }
  return keys;
}

/** A new random key and its line for BW_API_KEYS_FILE (`bellwether keys create`). */
export function createApiKey(name: string, role: Role): { key: string; line: string } {
  if (!NAME.test(name)) throw new BellwetherError('BW_ERR_CLI_USAGE', `--name must match ${NAME}`);
  const key = `bw_${randomBytes(32).toString('base64url')}`;
  return { key, line: `${name} ${role} sha256:${hashKey(key)}` };
}
