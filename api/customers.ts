/**
 * Customer routes: one customer's features, scores and (by role) personal fields; the riskiest
 * customers; and the bulk export. Every answer is audited, and every customer it carries is
 * charged to the key's hourly budget of distinct customers (BW_EXPORT_LIMIT, customer-budget.ts).
 */
import { Readable } from 'node:stream';
import type { Static } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { BellwetherError } from '../contract/errors.js';
import type { CustomerAnswer, EngineView } from '../engine/view.js';
import type { EngineSecurity } from '../security/engine-security.js';
import { auditEntry, demand } from './auth.js';
import {
  budgetKey,
  chargeCustomer,
  chargeCustomers,
  checkCustomer,
  watchEnumeration,
} from './customer-budget.js';
import { customerEventsRoute } from './customer-events.js';
import { answerFields, type PiiView, type PresentedAnswer, piiViewFor, presentAnswer } from './pii-view.js';
import {
  CustomerAnswerBody,
  CustomerList,
  type CustomerListQuery,
  CustomerListQuery as CustomerListQuerySchema,
  CustomerParams,
  CustomerQuery,
  ErrorBody,
  ExportQuery,
  LinkedAnswer,
  RecommendationAnswer,
} from './schemas.js';

/**
 * Serialized answers by answer object and view: the main thread's answer cache hands out the same
 * object until the customer changes, so repeated reads send the same bytes without presenting and
 * serializing it again. Plain personal data is never kept (opened for each read).
 */
const serialized = new WeakMap<CustomerAnswer, Map<PiiView, { body: string; fields: string[] }>>();

/** Answers fetched from the workers at once during an export. */
const EXPORT_CHUNK = 256;

export function customerRoutes(app: FastifyInstance, engine: EngineView, security: EngineSecurity): void {
  /**
   * One customer's answer under the key's budget: the read is shown to the enumeration detector,
   * refused past the budget before the engine is asked, a miss counted (404), and a found customer
   * charged synchronously with the check, so concurrent reads cannot overtake it.
   */
  async function readCustomer(request: FastifyRequest, id: string): Promise<CustomerAnswer> {
    watchEnumeration(request, security.enumeration.read(budgetKey(request), id));
    checkCustomer(request, security, id);
    const answer = await engine.customer(id);
    if (!answer) {
      watchEnumeration(request, security.enumeration.miss(budgetKey(request), id));
      throw new BellwetherError('BW_ERR_CUSTOMER_NOT_FOUND', 'no events seen for this customer');
    }
    chargeCustomer(request, security, id);
    return answer;
  }

  customerEventsRoute(app, engine, security, readCustomer);

  app.get<{ Params: Static<typeof CustomerParams>; Querystring: Static<typeof CustomerQuery> }>(
    '/v1/customers/:id',
    {
      config: { permission: 'read', audit: true },
      schema: {
        summary: "A customer's current features, scores, segment and (by role) personal fields",
        tags: ['customers'],
        params: CustomerParams,
        querystring: CustomerQuery,
        response: {
          200: CustomerAnswerBody,
          308: LinkedAnswer,
          403: ErrorBody,
          404: ErrorBody,
          429: ErrorBody,
        },
      },
    },
    async (request, reply) => {
      const view = piiViewFor(demand(request, 'read'), request.query.pii);
      const id = request.params.id;
      request.auditInfo = { customers: 0, fields: [], pii: view, customer_id: id };
      const answer = await readCustomer(request, id);
      if (answer.linked_to !== undefined) {
        // A linked anonymous id: its history is the customer's now (docs/events.md, Identity).
        const query = request.query.pii === undefined ? '' : `?pii=${request.query.pii}`;
        const location = `/v1/customers/${encodeURIComponent(answer.linked_to)}${query}`;
        return reply.code(308).header('location', location).send({ customer_id: answer.linked_to });
      }
      let views = serialized.get(answer);
      let sent = views?.get(view);
      if (!sent) {
        const presented = presentAnswer(answer, view, security, request.log);
        const fresh = { body: String(reply.serialize(presented)), fields: answerFields(presented) };
        if (view !== 'plain') {
          if (!views) serialized.set(answer, (views = new Map()));
          views.set(view, fresh);
        }
        sent = fresh;
      }
      request.auditInfo = { ...request.auditInfo, customers: 1, fields: sent.fields };
      // A string with a JSON content type is sent as it is (already serialized by the route's schema).
      return reply.type('application/json; charset=utf-8').send(sent.body);
    },
  );

  app.get<{ Params: Static<typeof CustomerParams> }>(
    '/v1/customers/:id/recommendations',
    {
      config: { permission: 'read', audit: true },
      schema: {
        summary:
          "A customer's next-best categories and skus, scored with its partition's association rules (docs/analytics.md)",
        tags: ['customers'],
        params: CustomerParams,
        response: { 200: RecommendationAnswer, 403: ErrorBody, 404: ErrorBody, 429: ErrorBody },
      },
    },
    async (request) => {
      demand(request, 'read');
      const id = request.params.id;
      request.auditInfo = { customers: 0, fields: [], pii: 'none', customer_id: id };
      // The customer budget and the enumeration detector as for the customer's answer.
      const answer = await readCustomer(request, id);
      request.auditInfo = { ...request.auditInfo, customers: 1, fields: ['recommendations'] };
      return { customer_id: answer.customer_id, ...answer.recommendations };
    },
  );

  app.get<{ Querystring: Static<typeof CustomerListQuery> }>(
    '/v1/customers',
    {
      config: { permission: 'read', audit: true },
      schema: {
        summary:
          'Customers with churn risk ≥ min_churn_risk (and a tag, a segment), highest risk first, from all workers; no personal fields',
        tags: ['customers'],
        querystring: CustomerListQuerySchema,
        response: { 200: CustomerList, 400: ErrorBody, 429: ErrorBody },
      },
    },
    async (request) => {
      const { min_churn_risk, limit, tag, segment } = request.query;
      const customers = await engine.top(min_churn_risk ?? 0, limit ?? 50, { tag, segment });
      chargeCustomers(
        request,
        security,
        customers.map((c) => c.customer_id),
      );
      request.auditInfo = { customers: customers.length, fields: ['scores', 'segment', 'tags'], pii: 'none' };
      return { customers, count: customers.length };
    },
  );

  app.get<{ Querystring: Static<typeof ExportQuery> }>(
    '/v1/export/customers',
    {
      config: { permission: 'export', audit: true },
      schema: {
        summary:
          'Bulk export as NDJSON: one full customer answer per line (personal fields by role), riskiest first; limited per key and hour',
        tags: ['customers'],
        querystring: ExportQuery,
        produces: ['application/x-ndjson'],
        response: {
          200: {
            description: 'One customer answer (CustomerAnswer) per line',
            content: { 'application/x-ndjson': { schema: CustomerAnswerBody } },
          },
          400: ErrorBody,
          403: ErrorBody,
          429: ErrorBody,
        },
      },
    },
    async (request, reply) => {
      const { min_churn_risk, limit, tag, segment, pii } = request.query;
      const view = piiViewFor(demand(request, 'export'), pii);
      const summaries = await engine.top(min_churn_risk ?? 0, limit ?? 1000, { tag, segment });
      chargeCustomers(
        request,
        security,
        summaries.map((c) => c.customer_id),
      );
      // A record before the first byte: even an export cut off by a crash leaves a trace.
      request.auditInfo = {
        customers: summaries.length,
        fields: [],
        pii: view,
        outcome: 'started',
        detail: `export of up to ${summaries.length} customers started`,
      };
      security.record(auditEntry(request, 200), true);
      const fields = new Set<string>();
      const audit = { customers: 0, fields: [] as string[], pii: view };
      request.auditInfo = audit;
      // Streamed a chunk of answers at a time: an export of many customers is never one big string.
      async function* lines(): AsyncGenerator<string> {
        for (let i = 0; i < summaries.length; i += EXPORT_CHUNK) {
          const answers = await Promise.all(
            summaries.slice(i, i + EXPORT_CHUNK).map((s) => engine.customer(s.customer_id, { bulk: true })),
          );
          let chunk = '';
          for (const answer of answers) {
            if (!answer) continue; // forgotten between the list and the read
            const presented: PresentedAnswer = presentAnswer(answer, view, security, request.log);
            for (const f of answerFields(presented)) fields.add(f);
            chunk += `${JSON.stringify(presented)}\n`;
            audit.customers++;
          }
          audit.fields = [...fields].sort();
          if (chunk) yield chunk;
        }
      }
      return reply.type('application/x-ndjson').send(Readable.from(lines()));
    },
  );
}
