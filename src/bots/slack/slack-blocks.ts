import { promptTime } from '../prompt-time.js';
import type { types } from '@slack/bolt';
import type { ApprovalOutcome, ApprovalPrompt } from '../bot-agent.js';
import { escapeMrkdwn, fitMrkdwn } from './slack-text.js';

/** Slack's limit for a section's text is 3000 characters; fields get 2000. */
const SECTION = 2900;
const FIELD = 1900;

type KnownBlock = types.KnownBlock;

const RISK: Record<string, string> = { low: ':large_green_circle: low', medium: ':large_yellow_circle: medium', high: ':large_orange_circle: high', critical: ':red_circle: critical' };

/** Slack's date markup: shown in each reader's time zone, with the ISO time as the fallback. */
/** Slack shows the time in each reader's own zone; the fallback text is in the branch's. */
const slackDate = (iso: string, timeZone?: string) => `<!date^${Math.floor(Date.parse(iso) / 1000)}^{date_short_pretty} {time}|${escapeMrkdwn(promptTime(iso, timeZone))}>`;

/** The prompt's header, summary, fields and details (what the agent wrote is shown as text, never as markup). */
export function promptBlocks(p: ApprovalPrompt): KnownBlock[] {
  return [
    { type: 'header', text: { type: 'plain_text', text: `Approval needed: ${p.actionType}`.slice(0, 150) } },
    { type: 'section', text: { type: 'mrkdwn', text: fitMrkdwn(p.summary, SECTION) } },
    {
      type: 'section',
      fields: [
        { type: 'mrkdwn', text: `*Branch*\n${fitMrkdwn(p.branchName, FIELD)}` },
        { type: 'mrkdwn', text: `*Risk*\n${RISK[p.riskLevel] ?? fitMrkdwn(p.riskLevel, FIELD)}` },
        { type: 'mrkdwn', text: `*Requested by*\n${fitMrkdwn(p.requester, FIELD)}` },
        { type: 'mrkdwn', text: `*Expires*\n${slackDate(p.expiresAt, p.timeZone)}` },
      ],
    },
    ...(p.details ? [{ type: 'section', text: { type: 'mrkdwn', text: `*Details*\n${fitMrkdwn(p.details, SECTION)}` } } as KnownBlock] : []),
    ...(p.progress?.length ? [{ type: 'section', text: { type: 'mrkdwn', text: fitMrkdwn(p.progress.join('\n'), SECTION) } } as KnownBlock] : []),
    { type: 'context', elements: [{ type: 'mrkdwn', text: `Code ${escapeMrkdwn(p.code)}` }] },
  ];
}

/** The decided prompt: its blocks (when known) with the buttons replaced by who decided, via which channel, when. */
export function outcomeBlocks(o: ApprovalOutcome, prompt: ApprovalPrompt | undefined): KnownBlock[] {
  const line = [
    `*${o.status.toUpperCase()}*`,
    o.by ? ` by ${escapeMrkdwn(o.by)}` : '',
    o.via ? ` via ${escapeMrkdwn(o.via)}` : '',
    o.at ? ` at ${slackDate(o.at, o.prompt?.timeZone)}` : '',
    o.reason ? ` — reason: ${fitMrkdwn(o.reason, 1200)}` : '',
  ].join('');
  return [...(prompt ? promptBlocks(prompt) : []), { type: 'section', text: { type: 'mrkdwn', text: line } }];
}

/** The reject-reason modal; `private_metadata` carries the approval id. */
export function reasonModal(approvalId: string): types.ModalView {
  return {
    type: 'modal',
    callback_id: 'approval_reject_reason',
    private_metadata: approvalId,
    title: { type: 'plain_text', text: 'Rejected' },
    submit: { type: 'plain_text', text: 'Save reason' },
    close: { type: 'plain_text', text: 'No reason' },
    blocks: [{ type: 'input', block_id: 'reason', optional: true, label: { type: 'plain_text', text: 'Why? (optional)' }, element: { type: 'plain_text_input', action_id: 'value', multiline: true, max_length: 1000 } }],
  };
}

/** The modal once the click is answered without asking a reason (refused, too late, already given). */
export function noticeModal(text: string): types.ModalView {
  return {
    type: 'modal',
    title: { type: 'plain_text', text: 'Approval' },
    close: { type: 'plain_text', text: 'Close' },
    blocks: [{ type: 'section', text: { type: 'mrkdwn', text: fitMrkdwn(text, SECTION) } }],
  };
}
