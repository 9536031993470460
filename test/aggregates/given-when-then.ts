/**
 * Given / when / then for deciders:
 *
 *   given(decider, pastEvents).when(command).then(expectedEvents)
 *   given(decider, pastEvents).when(command).thenThrows('RULE_CODE')
 *
 * `then` also checks that the decision is deterministic (same input, same output), that every
 * emitted event satisfies its contract schema, and that `evolve` accepts the emitted events.
 */
import { expect } from 'vitest';
import { fold, type Decider } from '../../src/aggregates/decider.js';
import { BusinessRuleError, type BusinessRuleCode } from '../../src/aggregates/errors.js';
import type { FieldError } from '../../src/contracts/common.js';
import { validateEventData } from '../../src/contracts/events/codec.js';

function assertContract(events: readonly unknown[]): void {
  for (const event of events) {
    const { type, data } = event as { type: string; data: unknown };
    expect(validateEventData(type, data), `${type} must satisfy its schema`).toEqual([]);
  }
}

export interface When<E> {
  /** Asserts the decided events (deep equality, in order). Returns them. */
  then(expected: readonly E[]): readonly E[];
  /** Asserts a BusinessRuleError with this code (and, optionally, these details). */
  thenThrows(code: BusinessRuleCode, details?: readonly FieldError[]): BusinessRuleError;
}

export interface Given<C, E, S> {
  readonly state: S;
  when(command: C): When<E>;
}

export function given<C, E, S>(decider: Decider<C, E, S>, events: readonly E[] = []): Given<C, E, S> {
  const state = fold(decider, events);
  return {
    state,
    when(command: C): When<E> {
      return {
        then(expected: readonly E[]): readonly E[] {
          const actual = decider.decide(command, state);
          expect(actual).toEqual(expected);
          expect(decider.decide(command, state), 'decide must be deterministic').toEqual(actual);
          assertContract(actual);
          fold(decider, actual, state);
          return actual;
        },
        thenThrows(code: BusinessRuleCode, details?: readonly FieldError[]): BusinessRuleError {
          let thrown: unknown;
          let events: readonly E[] | undefined;
          try {
            events = decider.decide(command, state);
          } catch (error) {
            thrown = error;
          }
          if (events !== undefined) expect.fail(`expected ${code}, got events ${JSON.stringify(events)}`);
          expect(thrown).toBeInstanceOf(BusinessRuleError);
          const error = thrown as BusinessRuleError;
          expect(error.code).toBe(code);
          if (details !== undefined) expect(error.details).toEqual(details);
          return error;
        },
      };
    },
  };
}
