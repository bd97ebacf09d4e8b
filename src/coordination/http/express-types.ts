import type { Logger } from '../../config/logger.js';
import type { Principal } from '../auth.js';

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace -- Express's documented way to type request fields
  namespace Express {
    interface Request {
      id: string;
      log: Logger;
      principal?: Principal;
    }
  }
}

export {};
