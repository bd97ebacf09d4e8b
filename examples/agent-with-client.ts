/**
 * A refund agent on the typed client: ask for approval, wait, act only on what
 * was approved, report the result.
 *
 * Against `npm run demo` (it prints `API: http://127.0.0.1:3000   admin token: demo_…`):
 *   1. register an agent with that admin token (the token in the answer is shown once):
 *      curl -sX POST http://127.0.0.1:3000/api/agents -H "Authorization: Bearer <admin token>" \
 *        -H 'content-type: application/json' -d '{"id": "refund-bot", "branchId": "lisboa"}'
 *   2. COORDINATOR_TOKEN=<its token> node --import tsx examples/agent-with-client.ts
 * The demo's Ana approves (or rejects) most prompts from Telegram within seconds; the rest wait for you on the dashboard.
 * Outside this repository: `npm install @chatops-coordinator/client` and import from there.
 */
import { CoordinatorClient, WaitTimeoutError, payloadHash } from '../packages/client/src/index.js';

const client = new CoordinatorClient({ baseUrl: process.env.COORDINATOR_URL ?? 'http://127.0.0.1:3000', token: process.env.COORDINATOR_TOKEN ?? '' });
const details = { orderId: '1234', amount: 20, currency: 'EUR', reason: 'duplicate charge' };

try {
  const approval = await client.requestApproval(
    { branchId: 'lisboa', actionType: 'refund', summary: `Refund ${details.amount} ${details.currency} to order ${details.orderId} (${details.reason})`, details },
    { wait: true, timeoutSec: 15 * 60, onWaiting: (a) => console.log(`waiting for a manager: approval ${a.code}, expires ${a.expiresAt}`) },
  );
  if (approval.status !== 'approved') {
    console.log(`not refunding: ${approval.status}${approval.decision.reason ? ` (${approval.decision.reason})` : ''} by ${approval.decision.byName ?? approval.decision.by}`);
  } else if (approval.decision.payloadHash !== (await payloadHash('refund', details))) {
    // What a manager approved is not what this process is about to run: refuse.
    await client.reportResult(approval.id, { success: false, error: 'payload differs from the approved one' });
  } else {
    const refundId = `rf_${Date.now()}`; // ... call the payment provider here ...
    await client.reportResult(approval.id, { success: true, result: { refundId } });
    console.log(`refunded (${refundId}), approved by ${approval.decision.byName ?? approval.decision.by} via ${approval.decision.via}`);
  }
} catch (error) {
  if (!(error instanceof WaitTimeoutError)) throw error;
  console.log(`nobody decided within 15 minutes; approval ${error.approval?.code} is still pending`);
}
