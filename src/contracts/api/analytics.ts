/**
 * HTTP bodies for user actions (→ analytics.event.recorded). Two endpoints rather than one
 * anyOf body (Ajv `removeAdditional` + anyOf mangles bodies): POST /actions takes one action,
 * POST /actions/batch up to 100. The tenant and user come from authentication.
 */
import { Type, type Static } from 'typebox';
import { Obj } from '../common.js';
import { userActionProperties } from '../events/analytics.js';

export const UserActionSchema = Obj(userActionProperties, {
  description: 'One user action',
  examples: [{ action: 'page_view', category: 'navigation', page: '/scorings/new', clientTimestamp: '2025-03-14T09:26:50Z' }],
});
export type UserAction = Static<typeof UserActionSchema>;

export const MAX_ACTIONS_PER_BATCH = 100;

export const UserActionBatchSchema = Obj(
  { actions: Type.Array(UserActionSchema, { minItems: 1, maxItems: MAX_ACTIONS_PER_BATCH }) },
  {
    description: 'A batch of user actions, recorded in order',
    examples: [{ actions: [{ action: 'page_view', category: 'navigation', page: '/dashboard' }, { action: 'scoring.result_viewed', category: 'scoring' }] }],
  },
);
export type UserActionBatch = Static<typeof UserActionBatchSchema>;

export const UserActionsAcceptedSchema = Obj({ accepted: Type.Integer({ minimum: 0, maximum: MAX_ACTIONS_PER_BATCH }) });
