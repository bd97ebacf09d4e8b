import { describe, expect, it } from '@jest/globals';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { boot } from '../../src/boot.js';
import { memoryLogger } from '../helpers/quiet-logger.js';
import { tempDir } from '../helpers/temp-dir.js';

describe('admin token rotation', () => {
  it('setting ADMIN_TOKEN rotates a generated token for good: unsetting it later does not bring the old one back', async () => {
    const dir = tempDir();
    mkdirSync(join(dir.path, 'data'), { mode: 0o700 });
    const environment = (token?: string) => ({
      PORT: '0',
      DASHBOARD_PORT: '0',
      HOST: '127.0.0.1',
      DATA_DIR: join(dir.path, 'data'),
      LOG_DIR: join(dir.path, 'logs'),
      COORDINATOR_CONFIG: join(dir.path, 'none.yaml'),
      ...(token ? { ADMIN_TOKEN: token } : {}),
    });
    const statusWith = async (url: string, token: string) => (await fetch(`${url}/config`, { headers: { authorization: `Bearer ${token}` } })).status;
    const { logger } = memoryLogger();
    try {
      let running = await boot({ environment: environment(), logger });
      const generated = running.coordinator.adminToken.token!;
      expect(existsSync(join(dir.path, 'data', 'admin-token'))).toBe(true);
      expect(await statusWith(running.api.url, generated)).toBe(200);
      await running.stop();

      const rotated = 'rotated-admin-token-0123456789';
      running = await boot({ environment: environment(rotated), logger });
      expect(await statusWith(running.api.url, generated)).toBe(401);
      expect(await statusWith(running.api.url, rotated)).toBe(200);
      // The file held the generated token: it goes with it.
      expect(existsSync(join(dir.path, 'data', 'admin-token'))).toBe(false);
      await running.stop();

      running = await boot({ environment: environment(), logger });
      expect(running.coordinator.adminToken.source).toBe('stored');
      expect(await statusWith(running.api.url, generated)).toBe(401);
      expect(await statusWith(running.api.url, rotated)).toBe(200);
      await running.stop();
    } finally {
      dir.cleanup();
    }
  });
});
