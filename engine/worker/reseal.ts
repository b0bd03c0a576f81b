/**
 * Personal fields under the worker's current PII key: re-sealed at start (a checkpoint written
 * before a key rotation holds fields under the old key) and when the main thread sends a new
 * keyring.
 */
import { PiiKeyring, type PiiKeyringData } from '../../security/pii-keyring.js';
import { PiiSealer } from '../../security/pii-sealer.js';
import type { AnswerPush } from './answer-push.js';
import type { WorkerContext } from './context.js';

/** Re-seals every personal field not under the current key; returns how many were. */
function resealAll(ctx: WorkerContext): number {
  let resealed = 0;
  for (const feed of ctx.feeds.values()) {
    const result = feed.crm.pii.reseal((slot) => feed.state.table.idOf(slot));
    resealed += result.resealed;
    if (result.failed > 0) {
      ctx.log.error(
        { partition: feed.state.partition, fields: result.failed },
        'personal fields do not open with the current keyring',
      );
    }
  }
  return resealed;
}

/** Swaps in a new PII keyring and re-seals what is not under its current key; returns how many were. */
export function rekey(ctx: WorkerContext, push: AnswerPush, keyring: PiiKeyringData): number {
  ctx.setSealer(new PiiSealer(PiiKeyring.fromData(keyring)));
  const resealed = resealAll(ctx);
  ctx.log.info({ key_id: keyring.keys[0]?.id, resealed }, 'pii keyring changed');
  push.voidAnswers(); // cached answers hold the old ciphertexts
  return resealed;
}
