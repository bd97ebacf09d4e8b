import type { Logger } from '../config/logger.js';
import type { Clock } from '../core/clock.js';
import type { Store } from '../storage/store.js';
import type { AuditLog } from './audit-log.js';
import type { EventBus } from './event-bus.js';

/** What every coordination module is built from (passed in, never imported as a global). */
export interface CoreDeps {
  store: Store;
  clock: Clock;
  logger: Logger;
  bus: EventBus;
  audit: AuditLog;
}
