import { describe, expect, it } from 'vitest';
import { piiViewFor } from '../../api/pii-view.js';
import { BellwetherError } from '../../contract/errors.js';
import { ApiKeys, allows, createApiKey, hashKey, ROLES } from '../../security/api-keys.js';
import { estimatedKeyBits, keySymbols } from '../../security/key-strength.js';
import { strongApiKey } from '../support/test-keys.js';

describe('API keys', () => {
  it('reads inline keys and hashed key files, keeping only hashes', () => {
    const viewer = strongApiKey('viewer-key');
    const analyst = strongApiKey('analyst-key');
    const keys = ApiKeys.parseInline(`${viewer}:viewer:vera, ${analyst}:analyst`);
    const created = createApiKey('ops-bot', 'service');
    ApiKeys.parseFile(`# keys\n${created.line}\n`, 'keys.txt', keys);
    expect(keys.size).toBe(3);
    expect(keys.lookup(viewer)).toEqual({ name: 'vera', role: 'viewer' });
    expect(keys.lookup(analyst)).toEqual({
      name: `key-${hashKey(analyst).slice(0, 8)}`,
      role: 'analyst',
    });
    expect(keys.lookup(created.key)).toEqual({ name: 'ops-bot', role: 'service' });
    expect(created.line).not.toContain(created.key);
    expect(keys.lookup(viewer.slice(0, -1))).toBeUndefined();
  });

  it('rejects weak keys, unknown roles, malformed lines and repeated names, without echoing keys', () => {
    expect(() => ApiKeys.parseInline('short:viewer')).toThrow(/at least 16/);
    const [a, b, c] = [strongApiKey('a'), strongApiKey('b'), strongApiKey('c')];
    expect(() => ApiKeys.parseInline(`${a}:root`)).toThrow(/role must be one of/);
    expect(() => ApiKeys.parseFile('bob admin deadbeef', 'f')).toThrow(/f:1: expected/);
    expect(() => ApiKeys.parseFile(`a admin sha256:${'0'.repeat(63)}`, 'f')).toThrow(/malformed hash/);
    expect(() => ApiKeys.parseInline(`${a}:viewer:x,${b}:viewer:x`)).toThrow(/name x repeats/);
    try {
      ApiKeys.parseInline(`${c}:root`);
    } catch (err) {
      expect(String(err)).not.toContain(c);
    }
  });

  it('refuses inline keys under the entropy bar with BW_ERR_KEY_WEAK, naming the entry and never the key', () => {
    // 16 characters and more, yet visibly not random: each scores under 96 bits.
    for (const weak of [
      'aaaaaaaaaaaaaaaa',
      'viewer-key-000000000001',
      'password1234password1234',
      'abcdefghijklmnop',
    ]) {
      let caught: unknown;
      try {
        ApiKeys.parseInline(`${weak}:viewer`);
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(BellwetherError);
      expect((caught as BellwetherError).code).toBe('BW_ERR_KEY_WEAK');
      expect((caught as BellwetherError).message).toMatch(
        /BW_API_KEYS entry 1: the key looks weak \(about \d+ bits, at least 96 needed\)/,
      );
      expect((caught as BellwetherError).message).not.toContain(weak);
    }
    expect(estimatedKeyBits(keySymbols('aaaaaaaaaaaaaaaa'))).toBe(0);
    expect(estimatedKeyBits(keySymbols('abcdefghijklmnop'))).toBe(64);
    // What `bellwether keys create` makes is far above the bar.
    expect(estimatedKeyBits(keySymbols(createApiKey('x', 'viewer').key))).toBeGreaterThan(150);
    // A keys file holds hashes: no bar applies there (and none could be measured).
    expect(ApiKeys.parseFile(`w viewer sha256:${hashKey('aaaaaaaaaaaaaaaa')}`, 'f').size).toBe(1);
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
