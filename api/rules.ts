/**
 * The rules in force and their editing: `GET /v1/rules` lists the rules (with their firings since
 * the workers started) and tags; `PUT /v1/rules/:id` adds or replaces one rule and `DELETE
 * /v1/rules/:id` removes one, in the rules file (BW_RULES_FILE), validated whole with the CRM
 * file's schema and checks (every violation at once: BW_ERR_CRM_CONFIG, 422, `error.violations`),
 * written atomically and applied as a reload on file change is (engine/rules-file.ts). Edits take
 * the admin role and are audited, refused or not.
 */
import { type Static, Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { BellwetherError } from '../contract/errors.js';
import type { EngineView, RuleDefinition } from '../engine/view.js';
import { ErrorBody } from './schemas.js';

const RuleParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) });

const RuleFields = {
  on: Type.Optional(
    Type.String({ description: 'Trigger event type: event rule, or absence rule with unless' }),
  ),
  when: Type.Optional(Type.String({ description: 'Expression (docs/crm.md, Expressions)' })),
  unless: Type.Optional(Type.Object({ type: Type.String(), within: Type.String() })),
  max_age: Type.Optional(Type.String({ description: 'Duration: ignore trigger events older than this' })),
  action: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  description: Type.Optional(Type.String()),
};

const RuleBody = Type.Object(
  {},
  {
    additionalProperties: true,
    description:
      "One rule as in a CRM file (docs/crm.md): on, when, unless {type, within}, max_age, action, description. The id is the path's (an `id` field must equal it). Checked with the CRM file's schema: a violation answers 422 BW_ERR_CRM_CONFIG with every violation in `error.violations`.",
  },
);

const RulesListing = Type.Object({
  file: Type.Union([Type.String(), Type.Null()], {
    description: 'The rules file edits go to; null: the built-in rules, not editable',
  }),
  rules: Type.Array(
    Type.Object({
      id: Type.String(),
      ...RuleFields,
      kind: Type.Union([Type.Literal('event'), Type.Literal('absence'), Type.Literal('condition')]),
      triggers: Type.Integer({
        minimum: 0,
        description: 'Firings counted by this instance since its workers started',
      }),
    }),
  ),
  tags: Type.Array(
    Type.Object({
      id: Type.String(),
      kind: Type.String(),
      when: Type.String(),
      description: Type.Optional(Type.String()),
    }),
  ),
});

function edited(request: FastifyRequest, id: string, what: string): void {
  request.auditInfo = { customers: 0, fields: [], pii: 'none', detail: `rule ${id} ${what}` };
}

export function ruleRoutes(app: FastifyInstance, engine: EngineView): void {
  app.get(
    '/v1/rules',
    {
      schema: {
        summary: 'The rules in force with their firings, and the tags',
        tags: ['rules'],
        response: { 200: RulesListing },
      },
    },
    () => engine.crmRules(),
  );

  app.put<{ Params: Static<typeof RuleParams>; Body: Record<string, unknown> }>(
    '/v1/rules/:id',
    {
      config: { permission: 'rules_write', audit: true },
      schema: {
        summary: 'Add or replace one rule in the rules file (validated, written atomically, applied)',
        tags: ['rules'],
        params: RuleParams,
        body: RuleBody,
        response: { 200: RulesListing, 400: ErrorBody, 409: ErrorBody, 422: ErrorBody },
      },
    },
    async (request) => {
      const id = request.params.id;
      edited(request, id, 'refused');
      const body = request.body ?? {};
      if (body['id'] !== undefined && body['id'] !== id)
        throw new BellwetherError(
          'BW_ERR_BAD_REQUEST',
          `body id '${String(body['id'])}' differs from the path's '${id}'`,
        );
      await engine.saveRule({ ...body, id } as RuleDefinition);
      edited(request, id, 'written');
      return engine.crmRules();
    },
  );

  app.delete<{ Params: Static<typeof RuleParams> }>(
    '/v1/rules/:id',
    {
      config: { permission: 'rules_write', audit: true },
      schema: {
        summary: 'Remove one rule from the rules file',
        tags: ['rules'],
        params: RuleParams,
        response: { 200: RulesListing, 404: ErrorBody, 409: ErrorBody },
      },
    },
    async (request) => {
      const id = request.params.id;
      edited(request, id, 'refused');
      await engine.deleteRule(id);
      edited(request, id, 'removed');
      return engine.crmRules();
    },
  );
}
