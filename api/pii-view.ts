/**
 * What a caller sees of a customer's personal fields: `none` (viewer, service), `masked` (analyst,
 * and admin by default) or `plain` (admin asking `?pii=plain`; every such read is audited as
 * plain). The worker's ciphertexts are opened here and never leave the process as they are.
 */
import type { FastifyBaseLogger } from 'fastify';
import { BellwetherError } from '../contract/errors.js';
import type { CustomerAnswer } from '../engine/view.js';
import { allows, type Principal } from '../security/api-keys.js';
import type { EngineSecurity } from '../security/engine-security.js';

const PII_VIEWS = ['none', 'masked', 'plain'] as const;
export type PiiView = (typeof PII_VIEWS)[number];

/** The view a caller gets for `requested` (undefined: the role's default); BW_ERR_FORBIDDEN above its role. */
export function piiViewFor(principal: Principal, requested: PiiView | undefined): PiiView {
  const view = requested ?? (allows(principal.role, 'pii_masked') ? 'masked' : 'none');
  if (view === 'plain' && !allows(principal.role, 'pii_plain')) {
    throw new BellwetherError('BW_ERR_FORBIDDEN', `role ${principal.role} may not read plain personal data`);
  }
  if (view === 'masked' && !allows(principal.role, 'pii_masked')) {
    throw new BellwetherError('BW_ERR_FORBIDDEN', `role ${principal.role} may not read personal data`);
  }
  return view;
}

export type PresentedAnswer = Omit<CustomerAnswer, 'sealed_pii'> & { pii?: Record<string, string> };

/** The answer without its ciphertexts, with `pii` opened and masked as the view says. */
export function presentAnswer(
  answer: CustomerAnswer,
  view: PiiView,
  security: EngineSecurity,
  log: FastifyBaseLogger,
): PresentedAnswer {
  const { sealed_pii: sealed, ...rest } = answer;
  if (view === 'none') return rest;
  const plain = sealed
    ? security.sealer.openAll(answer.customer_id, sealed, (field, err) =>
        log.error({ code: err.code, field, detail: err.message }, 'personal field does not open'),
      )
    : {};
  return { ...rest, pii: view === 'plain' ? plain : security.masker.maskAll(plain) };
}

/** Field groups of a presented answer, for the audit log. */
export function answerFields(answer: PresentedAnswer): string[] {
  const fields = ['features', 'recommendations', 'scores', 'segment', 'tags'];
  for (const field of Object.keys(answer.pii ?? {})) fields.push(`pii.${field}`);
  return fields;
}
