/**
 * The crash-recovery tests' hook (BW_TEST_CRASH_EVENT_ID, BW_TEST_CRASH_ALWAYS; TestHooks in
 * thread-messages.ts): the thread exits abruptly when it is about to fold the event with a given
 * id. Kept off the hot path: the ingest's admit step is wrapped by the checking variant only when
 * the hook is set for this thread's generation.
 */
import type { JsMsg } from '@nats-io/jetstream';
import type { ParsedEvent } from '../../contract/event-parse.js';
import type { Logger } from '../log.js';
import type { TestHooks } from '../pool/thread-messages.js';
import type { PartitionFeed } from './context.js';

/** Exit code of a thread crashed by the hook. */
export const CRASH_EXIT_CODE = 70;

/** The ingest step a parsed event goes through: dedupe, then fold (ingest.ts). */
export type AdmitStep = (
  feed: PartitionFeed,
  msg: JsMsg,
  event: ParsedEvent,
  seq: number,
  t0: number,
) => void;

/**
 * The event id this thread crashes on, or undefined: the first generation crashes, a restarted
 * one only with `crashAlways` (a message that crashes every time: a poison message).
 */
export function crashEventId(hooks: TestHooks, generation: number): string | undefined {
  if (hooks.crashOnEventId === undefined) return undefined;
  return generation === 0 || hooks.crashAlways === true ? hooks.crashOnEventId : undefined;
}

/** `admit`, preceded by the crash when the event's id is `eventId`. */
export function crashingOn(
  eventId: string,
  admit: AdmitStep,
  log: Logger,
  exit: (code: number) => void = (code) => process.exit(code),
): AdmitStep {
  return (feed, msg, event, seq, t0) => {
    if (event.body.event_id === eventId) {
      log.error({ partition: feed.state.partition }, 'test hook: crashing the worker thread');
      exit(CRASH_EXIT_CODE);
      return;
    }
    admit(feed, msg, event, seq, t0);
  };
}
