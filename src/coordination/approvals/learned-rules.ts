import type { Clock } from '../../core/clock.js';
import { isoNow } from '../../core/clock.js';
import { ConflictError, NotFoundError } from '../../core/errors.js';
import type { RiskLevel } from '../../storage/records.js';
import type { Store } from '../../storage/store.js';
import type { AuditLog } from '../audit-log.js';
import type { RuntimeSettings } from '../runtime-settings.js';

export interface LearnedRule {
  id: string;
  branchId: string;
  actionType: string;
  status: 'suggested' | 'active' | 'revoked';
  streak: number;
  suggestedAt: string;
  decidedBy?: string;
  decidedAt?: string;
}

interface LearningState {
  streaks: Record<string, number>;
  rules: LearnedRule[];
}

const KEY = 'approvals.learning';

/**
 * After K consecutive human approvals of one action type at one branch (no
 * rejection between), suggest auto-approving it. A suggestion does nothing
 * until an operator accepts it; it can be revoked. Critical risk is never
 * learned: it always waits for a person.
 */
export class LearnedRules {
  constructor(private readonly deps: { store: Store; clock: Clock; audit: AuditLog; settings: RuntimeSettings }) {}

  private async load(): Promise<LearningState> {
    const doc = await this.deps.store.settings.get(KEY);
    return (doc?.value as LearningState) ?? { streaks: {}, rules: [] };
  }

  private async save(state: LearningState): Promise<void> {
    await this.deps.store.settings.put({ id: KEY, value: state, updatedAt: isoNow(this.deps.clock) });
  }

  async list(): Promise<LearnedRule[]> {
    return (await this.load()).rules;
  }

  /** The accepted rule that lets this request through, described for the audit log, or null. */
  async activeRuleFor(branchId: string, actionType: string, risk: RiskLevel): Promise<string | null> {
    if (risk === 'critical') return null;
    const rule = (await this.load()).rules.find((r) => r.branchId === branchId && r.actionType === actionType && r.status === 'active');
    return rule ? `learned rule ${rule.id} (accepted by ${rule.decidedBy})` : null;
  }

  /** Counts one human decision toward (or against) a suggestion. */
  async record(branchId: string, actionType: string, risk: RiskLevel, approved: boolean): Promise<void> {
    if (risk === 'critical') return;
    const state = await this.load();
    const key = `${branchId}|${actionType}`;
    state.streaks[key] = approved ? (state.streaks[key] ?? 0) + 1 : 0;
    const existing = state.rules.find((r) => r.branchId === branchId && r.actionType === actionType && r.status !== 'revoked');
    if (approved && !existing && state.streaks[key] >= this.deps.settings.config.approvals.learnAfter) {
      const rule: LearnedRule = { id: `${branchId}.${actionType}`, branchId, actionType, status: 'suggested', streak: state.streaks[key], suggestedAt: isoNow(this.deps.clock) };
      state.rules = [...state.rules.filter((r) => r.id !== rule.id), rule];
      await this.deps.audit.append({ type: 'approval.rule-suggested', actor: 'coordinator', branchId, data: rule });
    }
    await this.save(state);
  }

  async setStatus(id: string, status: 'active' | 'revoked', by: string): Promise<LearnedRule> {
    const state = await this.load();
    const rule = state.rules.find((r) => r.id === id);
    if (!rule) throw new NotFoundError('Learned rule', id);
    if (status === 'active' && rule.status !== 'suggested') throw new ConflictError(`Rule '${id}' is ${rule.status}; only a suggestion can be accepted`);
    Object.assign(rule, { status, decidedBy: by, decidedAt: isoNow(this.deps.clock) });
    if (status === 'revoked') state.streaks[`${rule.branchId}|${rule.actionType}`] = 0;
    await this.save(state);
    await this.deps.audit.append({ type: status === 'active' ? 'approval.rule-accepted' : 'approval.rule-revoked', actor: by, branchId: rule.branchId, data: { id } });
    return rule;
  }
}
