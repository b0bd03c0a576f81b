/**
 * A request value outside a set of allowed values gets one coded 400 naming the set: over the real
 * server (unions of constants in query strings) and over Ajv's own errors (enum, and unions that are
 * not only constants, which keep Ajv's wording).
 */
import { Ajv } from 'ajv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validationMessage } from '../../api/validation-errors.js';
import { EVENT_TYPES } from '../../contract/event-types.js';
import { ATTRIBUTION_MODELS } from '../../operators/analytics/attribution-report.js';
import { type ApiHarness, auth, startApi } from '../support/api-server.js';

let api: ApiHarness;

beforeAll(async () => {
  api = await startApi();
});

afterAll(async () => {
  await api.close();
});

describe('a query value outside its allowed values', () => {
  it.each([
    ['/v1/paths?from=teleport', `querystring/from must be one of: ${EVENT_TYPES.join(', ')}`],
    [
      '/v1/attribution?model=first_touch',
      `querystring/model must be one of: ${ATTRIBUTION_MODELS.join(', ')}`,
    ],
    [
      '/v1/customers?segment=vip',
      'querystring/segment must be one of: new, dormant, at_risk, core, potential, regular',
    ],
    ['/v1/association-rules?level=brand', 'querystring/level must be one of: category, sku'],
  ])('GET %s answers one 400 BW_ERR_BAD_REQUEST naming the allowed values', async (url, message) => {
    const res = await api.app.inject({ url, headers: auth('viewer') });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toEqual({ error: { code: 'BW_ERR_BAD_REQUEST', message } });
  });

  it('keeps the other problems of the same request, each once', async () => {
    const res = await api.app.inject({ url: '/v1/paths?from=teleport&limit=0', headers: auth('viewer') });
    expect(res.statusCode).toBe(400);
    const { message } = res.json().error as { message: string };
    // Fastify stops at the first failing property; whichever it is, no constant is listed one by one.
    expect(message).not.toContain('must be equal to constant');
    expect(message).toMatch(/querystring\/(from must be one of: |limit must be >= 1)/);
  });
});

describe('validationMessage', () => {
  const ajv = new Ajv({ allErrors: true });
  const errorsOf = (schema: object, data: unknown) => {
    const validate = ajv.compile(schema);
    expect(validate(data)).toBe(false);
    return validate.errors ?? [];
  };

  it('names the values of an enum', () => {
    const errors = errorsOf(
      { type: 'object', properties: { kind: { type: 'string', enum: ['churn', 'intent'] } } },
      { kind: 'fraud' },
    );
    expect(validationMessage(errors, 'querystring')).toBe('querystring/kind must be one of: churn, intent');
  });

  it('names non-string constants as JSON', () => {
    const errors = errorsOf({ anyOf: [{ const: 1 }, { const: null }, { const: 'x' }] }, 2);
    expect(validationMessage(errors, 'body')).toBe('body must be one of: 1, null, x');
  });

  it('leaves a union that is not only constants in Ajv’s words, and other errors as they are', () => {
    const errors = errorsOf(
      {
        type: 'object',
        properties: {
          at: { anyOf: [{ const: 'now' }, { type: 'integer' }] },
          limit: { type: 'integer', minimum: 1 },
        },
      },
      { at: 'later', limit: 0 },
    );
    expect(validationMessage(errors, 'querystring')).toBe(
      [
        'querystring/at must be equal to constant',
        'querystring/at must be integer',
        'querystring/at must match a schema in anyOf',
        'querystring/limit must be >= 1',
      ].join(', '),
    );
  });
});
