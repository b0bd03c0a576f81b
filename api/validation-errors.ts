/**
 * The message of a request that fails its schema (BW_ERR_BAD_REQUEST). Ajv reports a value outside
 * a union of constants as one "must be equal to constant" per constant and then "must match a
 * schema in anyOf"; here that becomes one line naming the allowed values, as an enum's does.
 */
import type { FastifySchemaValidationError } from 'fastify';

/** The anyOf a const error's schema path sits in (`#/properties/from/anyOf/3/const` → `#/properties/from/anyOf`). */
function anyOfOf(schemaPath: string): string | undefined {
  return /^(.*\/anyOf)\/\d+\/const$/.exec(schemaPath)?.[1];
}

const list = (values: readonly unknown[]): string =>
  values.map((v) => (typeof v === 'string' ? v : JSON.stringify(v))).join(', ');

/** One line per problem: `<part><path> <what is wrong>`. */
export function validationMessage(errors: readonly FastifySchemaValidationError[], dataVar: string): string {
  // Each anyOf whose branches are all constants: the constants, in schema order.
  const constants = new Map<string, unknown[]>();
  const other = new Set<string>();
  for (const e of errors) {
    const anyOf = anyOfOf(e.schemaPath);
    if (anyOf === undefined) continue;
    if (e.keyword === 'const') {
      const values = constants.get(anyOf) ?? [];
      values.push((e.params as { allowedValue?: unknown }).allowedValue);
      constants.set(anyOf, values);
    }
  }
  for (const e of errors) {
    // A branch that failed for another reason (a type, a pattern): the union is not only constants.
    const branch = /^(.*\/anyOf)\/\d+\//.exec(e.schemaPath)?.[1];
    if (branch !== undefined && e.keyword !== 'const') other.add(branch);
  }
  const lines: string[] = [];
  for (const e of errors) {
    const where = `${dataVar}${e.instancePath ?? ''}`;
    const anyOf = anyOfOf(e.schemaPath);
    if (e.keyword === 'const' && anyOf !== undefined && !other.has(anyOf)) continue;
    const values = e.keyword === 'anyOf' ? constants.get(e.schemaPath) : undefined;
    if (values && !other.has(e.schemaPath)) {
      lines.push(`${where} must be one of: ${list(values)}`);
    } else if (e.keyword === 'enum') {
      const allowed = (e.params as { allowedValues?: unknown[] }).allowedValues ?? [];
      lines.push(`${where} must be one of: ${list(allowed)}`);
    } else {
      lines.push(`${where} ${e.message ?? 'is not valid'}`);
    }
  }
  return lines.join(', ');
}

/** Fastify's schemaErrorFormatter: the error the route's validation throws. */
export function formatValidationErrors(errors: FastifySchemaValidationError[], dataVar: string): Error {
  return new Error(validationMessage(errors, dataVar));
}
