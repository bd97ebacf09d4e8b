/**
 * `npm run setup`: first-run helper. Creates `.env` and `coordinator.yaml` from
 * their examples when absent (never overwriting), creates the data and log
 * folders, validates everything and says what to do next.
 * `npm run setup -- --check` only validates: exit 1 on any problem (for CI and deploys).
 */
import { config as loadDotenv } from 'dotenv';
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { loadConfigFile } from '../src/config/config-file.js';
import { readEnv } from '../src/config/env.js';
import { CodedError } from '../src/core/errors.js';
import { PROJECT_ROOT } from '../src/core/project-root.js';

const check = process.argv.includes('--check');
const out: string[] = [];
const say = (line = '') => out.push(line);

function copyIfAbsent(example: string, target: string): void {
  if (existsSync(target)) {
    say(`  kept     ${target} (already there)`);
  } else if (check) {
    say(`  missing  ${target} (run npm run setup to create it from ${example})`);
  } else {
    copyFileSync(resolve(PROJECT_ROOT, example), target);
    say(`  created  ${target} from ${example}`);
  }
}

function main(): number {
  say(check ? 'Checking the coordinator configuration' : 'Setting up the coordinator');
  copyIfAbsent('.env.example', '.env');
  loadDotenv({ quiet: true });
  let problems = 0;
  let env;
  try {
    env = readEnv(process.env);
  } catch (error) {
    say((error as CodedError).message);
    return finish(1);
  }
  if (!existsSync(env.COORDINATOR_CONFIG) && env.COORDINATOR_CONFIG === './coordinator.yaml') copyIfAbsent('coordinator.example.yaml', env.COORDINATOR_CONFIG);
  if (!check) {
    for (const dir of [env.DATA_DIR, env.LOG_DIR]) {
      mkdirSync(dir, { recursive: true });
      say(`  ready    ${dir}/`);
    }
  }
  say();
  say(`Storage:  ${env.MONGODB_URI ? 'MongoDB (MONGODB_URI), with the file store in ' + env.DATA_DIR + ' as fallback' : 'file store (SQLite) in ' + env.DATA_DIR}`);
  say(`API:      http://${env.HOST}:${env.PORT}    Dashboard: http://${env.HOST}:${env.DASHBOARD_PORT}`);
  say(`Admin:    ${env.ADMIN_TOKEN ? 'ADMIN_TOKEN is set' : 'a token is generated on first start and saved in ' + env.DATA_DIR + '/admin-token'}`);
  try {
    const loaded = loadConfigFile(resolve(env.COORDINATOR_CONFIG), process.env);
    if (!loaded.exists) {
      say(`Config:   ${env.COORDINATOR_CONFIG} does not exist: the coordinator starts with no branches.`);
    } else {
      say(`Config:   ${env.COORDINATOR_CONFIG} is valid — ${loaded.config.branches.length} branch(es)`);
      for (const branch of loaded.config.branches) {
        say(`  ${branch.id} "${branch.name}" (${branch.timezone}): ${branch.managers.length} manager(s)`);
        for (const agent of branch.agents) {
          const lacking = agent.missingCredentials?.length ? `lacks credentials: set ${agent.missingCredentials.join(', ')} in .env` : agent.enabled ? 'ready' : 'disabled';
          say(`    - ${agent.id} (${agent.channel}): ${lacking}`);
        }
      }
      const lacking = loaded.config.branches.flatMap((b) => b.agents).filter((a) => a.missingCredentials?.length);
      say();
      if (lacking.length > 0) {
        say(`Next: fill in the credentials above in .env (agents without them are not started), then run: npm start`);
      } else {
        say('Next: npm start');
      }
    }
  } catch (error) {
    if (!(error instanceof CodedError)) throw error;
    say(error.message);
    problems++;
  }
  return finish(problems > 0 ? 1 : 0);
}

function finish(code: number): number {
  console.log(out.join('\n'));
  if (code !== 0) console.error('\nSetup found problems (listed above).');
  return code;
}

process.exitCode = main();
