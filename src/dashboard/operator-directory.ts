import { sameDigest, sha256 } from '../core/ids.js';
import type { RiskLevel } from '../storage/records.js';
import { RISK_LEVELS } from '../config/config-schema.js';
import type { RuntimeSettings } from '../coordination/runtime-settings.js';
import { eligibleManagers, mayManageRules, whyNotDecide } from '../coordination/approvals/policy.js';
import { DEFAULT_SCRYPT, hashPassword, verifyPassword } from './password-hash.js';
import type { DashboardUser, Session } from './session-manager.js';

/** What the dashboard tells the page about the signed-in user: who, and what they may decide. */
export interface UserView extends DashboardUser {
  /** Per branch id, the risk levels this user may decide (the engine's eligibility rules). */
  canDecide: Record<string, RiskLevel[]>;
  /** Branch ids whose learned auto-approval rules this user may accept or revoke (see `mayManageRules`). */
  canManageRules: string[];
  /** Why deciding is not possible, when it is not anywhere. */
  decideNote?: string;
  /** Per branch id and risk this linked manager may not decide, why ("Ana is not a manager at Porto Ribeira."). */
  cannotDecide: Record<string, Partial<Record<RiskLevel, string>>>;
}

/** A successful sign-in: who, and the fingerprint of the credential used (what its session is bound to). */
export interface SignedIn {
  user: DashboardUser;
  credential: string;
}

type Operator = RuntimeSettings['config']['operators'][number];

const ADMIN_USER: DashboardUser = Object.freeze({ kind: 'admin', username: 'admin', name: 'Administrator' });

function operatorUser(operator: Operator): DashboardUser {
  return { kind: 'operator', username: operator.username, name: operator.name ?? operator.username, ...(operator.manager ? { managerId: operator.manager } : {}) };
}

/**
 * What a session is bound to: a digest of the credential's stored hash
 * (domain-separated, shortened). It is in the cookie, so it must say nothing
 * useful about the credential: it is a hash of a hash of a high-entropy
 * token, or of a salted scrypt hash.
 */
function fingerprint(storedHash: string): string {
  return sha256(`dashboard-session-credential\0${storedHash}`).slice(0, 32);
}

/**
 * Dashboard logins: the operators of the coordinator config (scrypt hashes) and
 * the admin token. Always re-read from the settings in force, so an operator
 * removed from the config loses access at once.
 */
export class OperatorDirectory {
  private dummyHash?: Promise<string>;

  constructor(private readonly deps: { settings: RuntimeSettings; adminTokenHash: string }) {}

  /** Checks a username and password; unknown users cost the same time as a wrong password. */
  async login(username: string, password: string): Promise<SignedIn | null> {
    const operator = this.operator(username.toLowerCase());
    if (!operator) {
      this.dummyHash ??= hashPassword('not-a-user', DEFAULT_SCRYPT);
      await verifyPassword(password, await this.dummyHash);
      return null;
    }
    if (!(await verifyPassword(password, operator.passwordHash))) return null;
    return { user: operatorUser(operator), credential: fingerprint(operator.passwordHash) };
  }

  loginWithToken(token: string): SignedIn | null {
    return sameDigest(sha256(token), this.deps.adminTokenHash) ? { user: ADMIN_USER, credential: fingerprint(this.deps.adminTokenHash) } : null;
  }

  /**
   * The user behind a session, as configured now: null if the operator was
   * removed, or if the credential it signed in with has changed since (the
   * admin token rotated, the operator's password changed).
   */
  resolve(session: Pick<Session, 'kind' | 'username' | 'cred'>): DashboardUser | null {
    if (session.kind === 'admin') return session.cred === fingerprint(this.deps.adminTokenHash) ? ADMIN_USER : null;
    const operator = this.operator(session.username);
    if (!operator || session.cred !== fingerprint(operator.passwordHash)) return null;
    return operatorUser(operator);
  }

  private operator(username: string): Operator | undefined {
    return this.deps.settings.config.operators.find((o) => o.username === username);
  }

  /**
   * Whether the user may accept or revoke a learned rule of `branchId`. A rule
   * decides for people, so it takes decision-level authority: an operator
   * linked to a manager who may decide every risk the rule can auto-approve at
   * that branch. The admin token may, as on the REST API
   * (`POST /api/approvals/rules/:id/accept` admits admin and operator tokens).
   */
  mayManageRules(user: DashboardUser, branchId: string): boolean {
    return mayManageRules(this.deps.settings.config, branchId, { admin: user.kind === 'admin', managerId: user.managerId });
  }

  /** Who the user may decide for, computed with the approval policy the engine uses. */
  view(user: DashboardUser): UserView {
    const config = this.deps.settings.config;
    const canManageRules = config.branches.filter((b) => this.mayManageRules(user, b.id)).map((b) => b.id);
    const canDecide: Record<string, RiskLevel[]> = {};
    const cannotDecide: Record<string, Partial<Record<RiskLevel, string>>> = {};
    if (user.managerId) {
      for (const branch of config.branches) {
        const risks = RISK_LEVELS.filter((risk) => eligibleManagers(config, branch, risk).some((m) => m.id === user.managerId));
        if (risks.length > 0) canDecide[branch.id] = risks;
        const why = Object.fromEntries(RISK_LEVELS.flatMap((risk) => (risks.includes(risk) ? [] : [[risk, whyNotDecide(config, branch, risk, user.managerId!)]])));
        if (Object.keys(why).length > 0) cannotDecide[branch.id] = why;
      }
    }
    let decideNote: string | undefined;
    if (user.kind === 'admin') decideNote = 'Signed in with the admin token: you can watch, act on agents and accept or revoke learned rules, but approvals are decided by managers. Sign in as an operator linked to a manager to decide.';
    else if (!user.managerId) decideNote = `Operator '${user.username}' is not linked to a manager (operators[].manager in the config): you can watch and act on agents, but not decide approvals or learned rules.`;
    else if (Object.keys(canDecide).length === 0) decideNote = `Manager '${user.managerId}' is not an eligible approver in any branch.`;
    return { ...user, canDecide, cannotDecide, canManageRules, ...(decideNote ? { decideNote } : {}) };
  }
}
