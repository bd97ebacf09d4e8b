import { describe, expect, it } from '@jest/globals';
import { classifyRisk } from '../../src/coordination/approvals/policy.js';
import type { CoordinatorConfig } from '../../src/config/config-schema.js';

const config = { approvals: { riskByAction: { 'get.balance': 'low' } } } as unknown as CoordinatorConfig;

describe('default risk of an action type', () => {
  it.each([
    ['get.refund', 'critical'],
    ['status.payment.transfer', 'critical'],
    ['lookup.message.send', 'critical'],
    ['get.wire-transfer', 'critical'],
    ['report_refunds', 'critical'],
    ['crm.delete', 'critical'],
    ['read.email.send', 'high'],
    ['status.crm', 'medium'],
    ['get.order', 'low'],
    ['invoice.create', 'high'],
  ])('%s is %s: the riskiest word anywhere in the type wins (an agent cannot rename a refund into "get.")', (type, risk) => {
    expect(classifyRisk(type, config).risk).toBe(risk);
  });

  it("the config's table wins, for exactly the types it names", () => {
    expect(classifyRisk('get.balance', config)).toEqual({ risk: 'low', source: 'approvals.riskByAction.get.balance' });
    expect(classifyRisk('constructor', config)).toEqual({ risk: 'high', source: 'default for unknown action types' });
  });
});
