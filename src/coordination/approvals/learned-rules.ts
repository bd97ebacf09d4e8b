import type { Clock } from '../../core/clock.js';
import { isoNow } from '../../core/clock.js';
import { CodedError, ConflictError, ErrorCode, NotFoundError } from '../../core/errors.js';
import type { RiskLevel } from '../../storage/records.js';
import type { Store } from '../../storage/store.js';
import type { AuditLog } from '../audit-log.js';
import type { RuntimeSettings } from '../runtime-settings.js';
import { mayManageRules } from './policy.js';

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
 * until someone with decision-level authority at that branch accepts it
 * (`mayManageRules` in policy.ts; callers check it); it can be revoked. Critical risk is never
 * learned: it always waits for a person.
 */
export class LearnedRules {
  constructor(private readonly deps: { store: Store; clock: Clock; audit: AuditLog; settings: RuntimeSettings }) {}

  private async load(): Promise<LearningState> {
    const doc = await this.deps.store.settings.get(KEY);
    return (doc?.value as LearningState) ?? { streaks: {}, rules: [] };
  }

  /**
   * Read-modify-write of the learning state with compare-and-set on its
   * version, retried, so concurrent decisions never lose a count.
   */
  private async change<T>(fn: (state: LearningState) => T): Promise<T> {
    const settings = this.deps.store.settings;
    for (let attempt = 0; ; attempt++) {
      const doc = await settings.get(KEY);
      const state = structuredClone((doc?.value as LearningState) ?? { streaks: {}, rules: [] });
      const result = fn(state);
      const updatedAt = isoNow(this.deps.clock);
      if (!doc) {
        try {
          await settings.insert({ id: KEY, value: state, updatedAt });
          return result;
        } catch (error) {
          if (!(error instanceof ConflictError) || attempt > 10) throw error;
          continue;
        }
      }
      if (await settings.update(KEY, { value: state, updatedAt }, { version: doc.version })) return result;
      if (attempt > 10) throw new ConflictError('learning state kept changing; try again');
    }
  }

  async list(): Promise<LearnedRule[]> {
    return (await this.load()).rules;
  }

  /** One rule by id, or null. */
  async get(id: string): Promise<LearnedRule | null> {
    return (await this.load()).rules.find((r) => r.id === id) ?? null;
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
    const suggested = await this.change((state) => {
      const key = `${branchId}|${actionType}`;
      state.streaks[key] = approved ? (state.streaks[key] ?? 0) + 1 : 0;
      const existing = state.rules.find((r) => r.branchId === branchId && r.actionType === actionType && r.status !== 'revoked');
      if (!approved || existing || state.streaks[key] < this.deps.settings.config.approvals.learnAfter) return null;
      const rule: LearnedRule = { id: `${branchId}.${actionType}`, branchId, actionType, status: 'suggested', streak: state.streaks[key], suggestedAt: isoNow(this.deps.clock) };
      state.rules = [...state.rules.filter((r) => r.id !== rule.id), rule];
      return rule;
    });
    if (suggested) await this.deps.audit.append({ type: 'approval.rule-suggested', actor: 'coordinator', branchId, data: suggested });
  }

  /**
   * Accepts or revokes a rule for someone whose authority is checked first
   * (`mayManageRules`): the admin, or a manager who may decide every learnable
   * risk at the rule's branch. A refusal is audited and answers 403; an
   * unknown rule, or one at a branch `visible` says the caller cannot see, 404.
   */
  async setStatusAs(id: string, status: 'active' | 'revoked', who: { admin?: boolean; managerId?: string; actor: string; visible: (branchId: string) => boolean }): Promise<LearnedRule> {
    const rule = await this.get(id);
    if (!rule || !who.visible(rule.branchId)) throw new NotFoundError('Learned rule', id);
    if (!mayManageRules(this.deps.settings.config, rule.branchId, who)) {
      await this.deps.audit.append({ type: 'approval.rule-refused', actor: who.actor, branchId: rule.branchId, data: { id, action: status === 'active' ? 'accept' : 'revoke', reason: 'needs decision-level authority for every learnable risk at this branch' } });
      throw new CodedError(ErrorCode.Forbidden, `Accepting or revoking rule '${id}' needs the admin token or a manager token whose manager may decide every risk a rule can auto-approve at branch '${rule.branchId}'`);
    }
    return this.setStatus(id, status, who.actor);
  }

  async setStatus(id: string, status: 'active' | 'revoked', by: string): Promise<LearnedRule> {
    const rule = await this.change((state) => {
      const found = state.rules.find((r) => r.id === id);
      if (!found) throw new NotFoundError('Learned rule', id);
      if (status === 'active' && found.status !== 'suggested') throw new ConflictError(`Rule '${id}' is ${found.status}; only a suggestion can be accepted`);
      Object.assign(found, { status, decidedBy: by, decidedAt: isoNow(this.deps.clock) });
      if (status === 'revoked') state.streaks[`${found.branchId}|${found.actionType}`] = 0;
      return found;
    });
    await this.deps.audit.append({ type: status === 'active' ? 'approval.rule-accepted' : 'approval.rule-revoked', actor: by, branchId: rule.branchId, data: { id } });
    return rule;
  }
}
