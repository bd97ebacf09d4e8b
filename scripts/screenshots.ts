/**
 * Regenerates docs/screenshots/*.png: boots a coordinator with stand-in bots
 * and demo data, signs in with headless Chromium and photographs each panel.
 *   npm run screenshots           (needs Debian's chromium, or CHROMIUM_PATH)
 */
import { join } from 'node:path';
import { PROJECT_ROOT } from '../src/core/project-root.js';
import { launchBrowser } from '../test/helpers/browser.js';
import { until } from '../test/helpers/until.js';
import { PASSWORDS, requestApproval, signIn, startDashboardCoordinator } from '../test/dashboard/dashboard-setup.js';

process.env.SCREENSHOT_DIR ??= join(PROJECT_ROOT, 'docs', 'screenshots');
const { t, bots, dashboardUrl } = await startDashboardCoordinator('approvals:\n  teams:\n    ops: { autonomy: autonomous }\n');
const b = await launchBrowser();
try {
  const store = t.running.store;
  await until('bots up', async () => (await store.agents.find({ where: { kind: 'bot' } })).every((a) => a.status === 'up'), 30_000);

  // Approvals of every risk, some decided.
  await requestApproval(t, 'Refund 20 EUR to order 1234 (duplicate charge)');
  await requestApproval(t, 'Send the weekly rates e-mail to 312 subscribers', { actionType: 'email.send' });
  await requestApproval(t, 'Update CRM: mark Maria Silva as VIP', { actionType: 'crm.update' });
  await requestApproval(t, 'Read the EUR/USD rate', { actionType: 'status.read' });
  const decided = await requestApproval(t, 'Refund 5 EUR to order 1200');
  await t.call(`/api/approvals/${decided.id}/decision`, { method: 'POST', json: { decision: 'approve' } });
  const rejected = await requestApproval(t, 'Promotion: 10% off for all customers', { actionType: 'payment' });
  await t.call(`/api/approvals/${rejected.id}/decision`, { method: 'POST', json: { decision: 'reject', reason: 'not this month' } });

  // Conversations and messages.
  const now = Date.now();
  const iso = (agoMin: number) => new Date(now - agoMin * 60_000).toISOString();
  const people = [
    { id: 'c1', name: 'Maria Silva', state: 'pending_human' as const, reason: 'asked_for_person', text: 'Can I talk to someone about my transfer?' },
    { id: 'c2', name: 'João Costa', state: 'bot' as const, text: 'What time do you open on Saturday?' },
    { id: 'c3', name: 'Emma Brown', state: 'bot' as const, text: 'EUR to GBP rate please' },
  ];
  for (const [i, p] of people.entries()) {
    await store.contacts.insert({ id: p.id, branchId: 'lisboa', channel: 'telegram', externalId: String(500 + i), name: p.name, firstSeenAt: iso(90), lastSeenAt: iso(i * 3), optedOut: false, tags: [] });
    await store.conversations.insert({ id: `cv-${p.id}`, contactId: p.id, branchId: 'lisboa', channel: 'telegram', agentId: 'lis-tg', chatId: String(500 + i), state: p.state, reason: p.reason, openedAt: iso(60), lastMessageAt: iso(i * 3), lastText: p.text, autoReplies: { count: 0, windowStart: iso(60) } });
  }
  for (let i = 0; i < 40; i++) {
    await store.messages.insert({ id: `m${i}`, contactId: people[i % 3].id, branchId: 'lisboa', channel: 'telegram', direction: i % 2 ? 'out' : 'in', text: 'hello', at: iso((i * 37) % 55) });
  }

  // One agent down, one waiting to be paired.
  bots.get('por-slack')!.health = 'fail';
  await until('por-slack down', async () => (await store.agents.get('por-slack'))?.status === 'down', 30_000);
  // As Baileys does it: the QR and the pairing code come as separate events, and the probe says it needs pairing.
  const wa = bots.get('lis-wa')!;
  wa.needsHumanDetail = 'needs pairing: enter the pairing code K7QM2XPL on the phone, or scan the QR on the dashboard';
  wa.health = 'needs-human';
  await until('lis-wa down', async () => (await store.agents.get('lis-wa'))?.status === 'down', 30_000);
  wa.emit({ type: 'pairing', agentId: 'lis-wa', qr: '2@Nq3cPb9V1mZxW8yLk2Jt0hFd5sRa7Qe4Ug6Io,9c1vYbT2nXzA8wLq3KpR5mJd7sHf0gEu4Ci6Oa=,Zk8xWq2Lm4Vn6Bp0Cr3Ds5Et7Fu9Gv1Hw=,Tj5Ry7Ua9Ib1Oc3Pd6Qe8Rf0Sg2Th4Ui=' });
  wa.emit({ type: 'pairing', agentId: 'lis-wa', pairingCode: 'K7QM2XPL' });

  // A learned auto-approval suggestion, after a run of approvals of one action type.
  const { learned } = t.running.coordinator.approvals;
  for (let i = 0; i < t.running.coordinator.settings.config.approvals.learnAfter; i++) await learned.record('lisboa', 'crm.update', 'medium', true);

  const { page } = await b.page({ width: 1280, height: 860 });
  await page.goto(dashboardUrl);
  await b.shot(page, 'login');
  await signIn(page, dashboardUrl, 'ana', PASSWORDS.ana);
  await page.locator('[data-testid="pairing-lis-wa"] img').waitFor();
  await page.locator('[data-testid="pairing-lis-wa"] .code').waitFor();
  await b.shot(page, 'agents');
  await page.getByRole('tab', { name: /Approvals/ }).click();
  await page.getByLabel('Status').selectOption('');
  await page.locator('.approval').first().waitFor();
  await page.locator('.approval input[type=checkbox]').first().check();
  await page.getByRole('button', { name: 'Accept suggestion: crm.update at Lisboa' }).waitFor();
  await b.shot(page, 'approvals');
  await page.getByRole('tab', { name: 'Activity' }).click();
  await page.getByRole('button', { name: 'Resolve hand-off of Maria Silva: the bot answers again' }).waitFor();
  await b.shot(page, 'activity');
  const phone = await b.page({ width: 390, height: 844 });
  await signIn(phone.page, dashboardUrl, 'ana', PASSWORDS.ana);
  await phone.page.locator('[data-agent="lis-tg"]').waitFor();
  await b.shot(phone.page, 'phone');
  process.stdout.write(`screenshots written to ${b.shotsDir}\n`);
} finally {
  await b.close();
  await t.close();
}
