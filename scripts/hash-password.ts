/**
 * Prints a scrypt hash for `operators[].passwordHash` in coordinator.yaml.
 *   npm run hash-password              (asks for the password, not echoed)
 *   echo -n 'secret' | npm run hash-password -- --stdin
 */
import { createInterface } from 'node:readline';
import { hashPassword } from '../src/dashboard/password-hash.js';

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

function ask(question: string): Promise<string> {
  const rl = createInterface({ input: process.stdin, output: process.stdout, terminal: true });
  // Hide what is typed: print the prompt once, then nothing.
  const output = rl as unknown as { _writeToOutput: (s: string) => void };
  let prompted = false;
  output._writeToOutput = (s: string) => {
    if (!prompted) process.stdout.write(s);
    prompted = true;
  };
  return new Promise((resolve) =>
    rl.question(question, (answer) => {
      rl.close();
      process.stdout.write('\n');
      resolve(answer);
    }),
  );
}

const password = process.argv.includes('--stdin') || !process.stdin.isTTY ? await readStdin() : await ask('Password: ');
if (password.length < 10) {
  process.stderr.write('Use a password of at least 10 characters.\n');
  process.exit(1);
}
process.stdout.write(`${await hashPassword(password)}\n`);
