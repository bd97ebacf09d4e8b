import type { CoordinatorConfig } from '../config/config-schema.js';
import type { Env } from '../config/env.js';
import type { Logger } from '../config/logger.js';
import { applyOverrides, mergeOverrides, overridesSchema, type Overrides } from '../config/overrides.js';
import { ConfigError } from '../core/errors.js';
import type { Clock } from '../core/clock.js';
import { isoNow } from '../core/clock.js';
import { zodIssues } from '../config/zod-issues.js';
import type { Store } from '../storage/store.js';
import type { EventBus } from './event-bus.js';

const OVERRIDES_KEY = 'config.overrides';

/**
 * The configuration in force: defaults < environment < config file < runtime
 * overrides. Overrides are validated like start-up config, persisted in the
 * store and re-applied on every start.
 */
export class RuntimeSettings {
  private overrides: Overrides = {};
  private effective: { env: Env; config: CoordinatorConfig };

  constructor(
    private readonly base: { env: Env; config: CoordinatorConfig },
    private readonly deps: { store: Store; logger: Logger; bus: EventBus; clock: Clock },
  ) {
    this.effective = base;
  }

  /** Loads persisted overrides; a stored value that no longer validates stops start-up with its path. */
  async load(): Promise<void> {
    const stored = await this.deps.store.settings.get(OVERRIDES_KEY);
    if (!stored) return;
    const parsed = overridesSchema.safeParse(stored.value);
    if (!parsed.success) throw new ConfigError(zodIssues(parsed.error, 'stored overrides (PATCH /config) '));
    this.apply(mergeOverrides({}, parsed.data, this.base.config));
  }

  get env(): Env {
    return this.effective.env;
  }

  get config(): CoordinatorConfig {
    return this.effective.config;
  }

  get currentOverrides(): Overrides {
    return this.overrides;
  }

  /** Validates a merge patch, persists the result, applies it. Invalid input changes nothing. */
  async patch(patch: unknown, by: string): Promise<Overrides> {
    const next = mergeOverrides(this.overrides, patch, this.base.config);
    await this.deps.store.settings.put({ id: OVERRIDES_KEY, value: next, updatedAt: isoNow(this.deps.clock) });
    this.apply(next);
    this.deps.logger.info('configuration changed', { module: 'config', by, overrides: next });
    this.deps.bus.emit('config.changed', { overrides: next, by });
    return next;
  }

  private apply(overrides: Overrides): void {
    this.overrides = overrides;
    this.effective = applyOverrides(this.base.env, this.base.config, overrides);
    this.deps.logger.level = this.effective.env.LOG_LEVEL;
  }
}
