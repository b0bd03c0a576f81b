/** Customer routes: one customer's features and scores, and the riskiest customers. */
import type { Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { BellwetherError } from '../engine/errors.js';
import type { EngineView } from './engine-view.js';
import {
  CustomerAnswerSchema,
  CustomerList,
  type CustomerListQuery,
  CustomerListQuery as CustomerListQuerySchema,
  CustomerParams,
  ErrorBody,
} from './schemas.js';

export function customerRoutes(app: FastifyInstance, engine: EngineView): void {
  app.get<{ Params: Static<typeof CustomerParams> }>(
    '/v1/customers/:id',
    {
      schema: {
        summary: "A customer's current features, scores and last event time",
        tags: ['customers'],
        params: CustomerParams,
        response: { 200: CustomerAnswerSchema, 404: ErrorBody },
      },
    },
    async (request) => {
      const answer = await engine.customer(request.params.id);
      if (!answer) throw new BellwetherError('BW_ERR_CUSTOMER_NOT_FOUND', 'no events seen for this customer');
      return answer;
    },
  );

  app.get<{ Querystring: Static<typeof CustomerListQuery> }>(
    '/v1/customers',
    {
      schema: {
        summary:
          'Customers with churn risk ≥ min_churn_risk (and a tag, a segment), highest risk first, from all workers',
        tags: ['customers'],
        querystring: CustomerListQuerySchema,
        response: { 200: CustomerList, 400: ErrorBody },
      },
    },
    async (request) => {
      const { min_churn_risk, limit, tag, segment } = request.query;
      const customers = await engine.top(min_churn_risk ?? 0, limit ?? 50, { tag, segment });
      return { customers, count: customers.length };
    },
  );
}
