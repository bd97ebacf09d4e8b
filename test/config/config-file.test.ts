import { afterEach, describe, expect, it } from '@jest/globals';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfigFile } from '../../src/config/config-file.js';
import { ConfigError } from '../../src/core/errors.js';
import { tempDir } from '../helpers/temp-dir.js';

const dirs: Array<() => void> = [];
afterEach(() => dirs.splice(0).forEach((c) => c()));

function write(yaml: string): string {
  const dir = tempDir();
  dirs.push(dir.cleanup);
  const path = join(dir.path, 'coordinator.yaml');
  writeFileSync(path, yaml);
  return path;
}

function issuesOf(fn: () => unknown): Record<string, string> {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return Object.fromEntries((e as ConfigError).issues.map((i) => [i.path, i.message]));
  }
  throw new Error('expected a ConfigError');
}

describe('coordinator config file', () => {
  it('treats a missing file as "no branches yet"', () => {
    const loaded = loadConfigFile('/nonexistent/coordinator.yaml', {});
    expect(loaded.exists).toBe(false);
    expect(loaded.config.branches).toEqual([]);
    expect(loaded.config.defaults.autonomy).toBe('supervised');
  });

  it('loads the shipped example with two branches; unset credentials mark agents, not errors', () => {
    const loaded = loadConfigFile(join(process.cwd(), 'coordinator.example.yaml'), { LISBOA_TELEGRAM_TOKEN: '123:abc' });
    expect(loaded.config.branches.map((b) => b.id)).toEqual(['lisboa', 'porto']);
    const agents = Object.fromEntries(loaded.config.branches.flatMap((b) => b.agents).map((a) => [a.id, a]));
    expect(agents['lisboa-telegram']).toMatchObject({ token: '123:abc' });
    expect(agents['lisboa-telegram'].missingCredentials).toBeUndefined();
    expect(agents['porto-telegram'].missingCredentials).toEqual(['PORTO_TELEGRAM_TOKEN']);
    expect(agents['ops-slack'].missingCredentials).toEqual(['SLACK_BOT_TOKEN', 'SLACK_SIGNING_SECRET']);
    expect(agents['porto-whatsapp']).toMatchObject({ channel: 'whatsapp-cloud', graphApiVersion: 'v26.0' });
    expect(agents['porto-whatsapp'].missingCredentials).toEqual(['PORTO_WA_ACCESS_TOKEN', 'PORTO_WA_APP_SECRET', 'PORTO_WA_VERIFY_TOKEN']);
    expect(loaded.config.branches[0].managers[0]).toMatchObject({ id: 'ana', role: 'owner', identities: { telegram: '100000001' } });
  });

  it('substitutes ${VAR}, ${VAR:-default} and $${ escapes', () => {
    const path = write(`business:\n  name: "\${NAME}"\nbranches:\n  - id: b1\n    name: "\${BRANCH:-Centro} $\${literal}"\n`);
    const { config } = loadConfigFile(path, { NAME: 'Câmbio' });
    expect(config.business.name).toBe('Câmbio');
    expect(config.branches[0].name).toBe('Centro ${literal}');
  });

  it('names an unset variable outside credentials as an error with its path', () => {
    const path = write('branches:\n  - id: b1\n    name: ${BRANCH_NAME}\n');
    expect(issuesOf(() => loadConfigFile(path, {}))['branches[0].name']).toMatch(/environment variable BRANCH_NAME is not set/);
  });

  it('reports every problem at once: types, unknown keys and channels, duplicates, dependencies, cycles', () => {
    const path = write(`
branches:
  - id: Lisboa!
    name: x
    timezone: Mars/Olympus
    colour: blue
    managers:
      - { id: m1, name: A, role: king, slack: nope }
      - { id: m1, name: B }
    agents:
      - { id: a1, channel: fax }
  - id: b2
    name: y
    businessHours: { mon: "18:00-09:00", funday: "10:00-12:00" }
    agents:
      - { id: t1, channel: telegram, token: x, dependsOn: [t2] }
      - { id: t2, channel: telegram, token: y, dependsOn: [t1] }
      - { id: t2, channel: whatsapp }
      - { id: t3, channel: whatsapp, dependsOn: [ghost] }
`);
    const first = issuesOf(() => loadConfigFile(path, {}));
    expect(first['branches[0].id']).toMatch(/lowercase letters/);
    expect(first['branches[0].timezone']).toMatch(/IANA time zone/);
    expect(first['branches[0]']).toMatch(/colour/);
    expect(first['branches[0].managers[0].role']).toMatch(/operator, manager, owner/);
    expect(first['branches[0].managers[0].slack']).toMatch(/Slack member id/);
    expect(first['branches[0].agents[0].channel']).toMatch(/one of slack, telegram, whatsapp/);
    expect(first['branches[1].businessHours.mon']).toMatch(/opening time must be before/);
    expect(Object.keys(first).some((k) => k.startsWith('branches[1].businessHours'))).toBe(true);

    const path2 = write(`
branches:
  - id: b2
    name: y
    managers: [{ id: m1, name: A }, { id: m1, name: B }]
    agents:
      - { id: t1, channel: telegram, token: x, dependsOn: [t2] }
      - { id: t2, channel: telegram, token: y, dependsOn: [t1] }
      - { id: t2, channel: whatsapp }
      - { id: t3, channel: whatsapp, dependsOn: [ghost] }
`);
    const second = issuesOf(() => loadConfigFile(path2, {}));
    expect(second['branches[0].managers[1].id']).toMatch(/duplicate manager id 'm1'/);
    expect(second['branches[0].agents[2].id']).toMatch(/duplicate agent id 't2'/);
    expect(second['branches[0].agents[3].dependsOn']).toMatch(/unknown agent 'ghost'/);
    expect(Object.values(second).some((m) => /dependency cycle: t1 -> t2 -> t1/.test(m))).toBe(true);
  });

  it('reports YAML syntax errors with file, line and column', () => {
    const path = write('branches:\n  - id: b1\n    name: [unclosed\n');
    const issues = issuesOf(() => loadConfigFile(path, {}));
    const [where, message] = Object.entries(issues)[0];
    expect(where).toMatch(/coordinator\.yaml:\d+:\d+$/);
    expect(message).toMatch(/YAML syntax/);
  });

  it('checks dashboard operators: a bad hash, an unknown manager link, a duplicate username', () => {
    const hash = 'scrypt$32768$8$1$AAAAAAAAAAAAAAAAAAAAAA$' + 'B'.repeat(43);
    const path = write(`
operators:
  - { username: ana, passwordHash: "${hash}", manager: ana }
  - { username: ana, passwordHash: "${hash}", manager: ghost }
branches:
  - { id: b1, name: B1, managers: [{ id: ana, name: Ana }] }
`);
    const issues = issuesOf(() => loadConfigFile(path, {}));
    expect(issues['operators[1].manager']).toMatch(/unknown manager 'ghost' \(known: ana\)/);
    expect(issues['operators[1].username']).toMatch(/duplicate username 'ana'/);
    const plain = write('operators: [{ username: bob, passwordHash: "plain-text" }]');
    expect(issuesOf(() => loadConfigFile(plain, {}))['operators[0].passwordHash']).toMatch(/npm run hash-password/);
  });

  it('refuses ids reserved for the coordinator on managers and agents, and an agent in two teams', () => {
    const path = write(`
approvals:
  teams:
    night-batch: { autonomy: autonomous, agents: [refunds, crm] }
    day: { autonomy: supervised, agents: [refunds] }
branches:
  - id: b1
    name: B1
    managers: [{ id: policy, name: Not the policy }]
    agents: [{ id: admin, channel: telegram, token: t }]
`);
    const issues = issuesOf(() => loadConfigFile(path, {}));
    expect(issues['branches[0].managers[0].id']).toMatch(/reserved for the coordinator/);
    expect(issues['branches[0].agents[0].id']).toMatch(/reserved for the coordinator/);
    expect(issues['approvals.teams.day.agents[0]']).toMatch(/'refunds' is already in team 'night-batch'/);
  });
});
