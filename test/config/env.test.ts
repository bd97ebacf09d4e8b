import { describe, expect, it } from '@jest/globals';
import { readEnv } from '../../src/config/env.js';
import { ConfigError } from '../../src/core/errors.js';

describe('readEnv', () => {
  it('gives the embedded defaults for an empty environment', () => {
    expect(readEnv({})).toMatchObject({
      PORT: 3000,
      DASHBOARD_PORT: 3001,
      HOST: '127.0.0.1',
      DATA_DIR: './data',
      LOG_DIR: './logs',
      LOG_LEVEL: 'info',
      COORDINATOR_CONFIG: './coordinator.yaml',
      HEALTH_INTERVAL_MS: 30000,
      MONGODB_URI: undefined,
      ADMIN_TOKEN: undefined,
    });
  });

  it('reads and coerces values', () => {
    const env = readEnv({ PORT: '8080', HEALTH_INTERVAL_MS: '5000', MONGODB_URI: 'mongodb://db:27017/x', TELEGRAM_API_ROOT: 'http://127.0.0.1:8081' });
    expect(env).toMatchObject({ PORT: 8080, HEALTH_INTERVAL_MS: 5000, MONGODB_URI: 'mongodb://db:27017/x', TELEGRAM_API_ROOT: 'http://127.0.0.1:8081' });
  });

  it('reports every bad variable in one error, each named with what is expected', () => {
    let error: ConfigError | undefined;
    try {
      readEnv({ PORT: 'eighty', DASHBOARD_PORT: '70000', LOG_LEVEL: 'loud', MONGODB_URI: 'postgres://x', HEALTH_INTERVAL_MS: '10', ADMIN_TOKEN: 'short', SLACK_API_URL: 'not a url' });
    } catch (e) {
      error = e as ConfigError;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const byPath = Object.fromEntries(error!.issues.map((i) => [i.path, i.message]));
    expect(byPath['env PORT']).toMatch(/port number/);
    expect(byPath['env DASHBOARD_PORT']).toMatch(/0-65535/);
    expect(byPath['env LOG_LEVEL']).toMatch(/one of error, warn, info/);
    expect(byPath['env MONGODB_URI']).toMatch(/mongodb:\/\//);
    expect(byPath['env HEALTH_INTERVAL_MS']).toMatch(/at least 1000/);
    expect(byPath['env ADMIN_TOKEN']).toMatch(/16 characters/);
    expect(byPath['env SLACK_API_URL']).toMatch(/URL/);
    expect(error!.message.split('\n')).toHaveLength(8);
  });
});
