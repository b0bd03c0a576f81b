import { describe, expect, it } from 'vitest';
import { piiViewFor } from '../../api/pii-view.js';
import { ApiKeys, allows, createApiKey, hashKey, ROLES } from '../../security/api-keys.js';

describe('API keys', () => {
  it('reads inline keys and hashed key files, keeping only hashes', () => {
    const keys = ApiKeys.parseInline('viewer-key-0123456789:viewer:vera, analyst-key-012345678:analyst');
    const created = createApiKey('ops-bot', 'service');
    ApiKeys.parseFile(`# keys\n${created.line}\n`, 'keys.txt', keys);
    expect(keys.size).toBe(3);
    expect(keys.lookup('viewer-key-0123456789')).toEqual({ name: 'vera', role: 'viewer' });
    expect(keys.lookup('analyst-key-012345678')).toEqual({
      name: `key-${hashKey('analyst-key-012345678').slice(0, 8)}`,
      role: 'analyst',
    });
    expect(keys.lookup(created.key)).toEqual({ name: 'ops-bot', role: 'service' });
    expect(created.line).not.toContain(created.key);
    expect(keys.lookup('viewer-key-012345678')).toBeUndefined();
  });

  it('rejects weak keys, unknown roles, malformed lines and repeated names, without echoing keys', () => {
    expect(() => ApiKeys.parseInline('short:viewer')).toThrow(/at least 16/);
    expect(() => ApiKeys.parseInline('long-enough-key-123:root')).toThrow(/role must be one of/);
    expect(() => ApiKeys.parseFile('bob admin deadbeef', 'f')).toThrow(/f:1: expected/);
    expect(() => ApiKeys.parseFile(`a admin sha256:${'0'.repeat(63)}`, 'f')).toThrow(/malformed hash/);
    expect(() => ApiKeys.parseInline('long-enough-key-aaa:viewer:x,long-enough-key-bbb:viewer:x')).toThrow(
      /name x repeats/,
    );
    try {
      ApiKeys.parseInline('long-enough-key-ccc:root');
    } catch (err) {
      expect(String(err)).not.toContain('long-enough-key-ccc');
    }
  });
});

describe('roles', () => {
  it('grant exactly the permissions of the table', () => {
    const table = Object.fromEntries(
      ROLES.map((r) => [
        r,
        ['read', 'metrics', 'pii_masked', 'pii_plain', 'export', 'models_reload'].filter((p) =>
          allows(r, p as never),
        ),
      ]),
    );
    expect(table).toEqual({
      viewer: ['read', 'metrics'],
      analyst: ['read', 'metrics', 'pii_masked', 'export'],
      admin: ['read', 'metrics', 'pii_masked', 'pii_plain', 'export', 'models_reload'],
      service: ['read', 'metrics', 'export', 'models_reload'],
    });
  });

  it('choose the personal-data view by role and refuse views above it', () => {
    expect(piiViewFor({ name: 'v', role: 'viewer' }, undefined)).toBe('none');
    expect(piiViewFor({ name: 's', role: 'service' }, undefined)).toBe('none');
    expect(piiViewFor({ name: 'a', role: 'analyst' }, undefined)).toBe('masked');
    expect(piiViewFor({ name: 'a', role: 'analyst' }, 'none')).toBe('none');
    expect(piiViewFor({ name: 'r', role: 'admin' }, undefined)).toBe('masked');
    expect(piiViewFor({ name: 'r', role: 'admin' }, 'plain')).toBe('plain');
    expect(() => piiViewFor({ name: 'a', role: 'analyst' }, 'plain')).toThrow(/may not read plain/);
    expect(() => piiViewFor({ name: 'v', role: 'viewer' }, 'masked')).toThrow(/may not read personal/);
  });
});
