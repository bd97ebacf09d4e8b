/**
 * Text crossing between our plain text and Slack's mrkdwn. Outgoing text is
 * escaped as Slack asks (`&`, `<`, `>`), so a customer writing `<!channel>`
 * or `<https://evil|Your order>` shows those characters instead of pinging a
 * channel or hiding a link. Incoming text has Slack's markup turned back
 * into what a person on WhatsApp or Telegram can read.
 */

/** `text` safe to put in a Slack message or mrkdwn block as plain words. */
export function escapeMrkdwn(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/**
 * `text` escaped and then cut to `max` characters (Slack refuses a section
 * over 3000) without splitting an `&amp;`-style entity, marked when cut.
 */
export function fitMrkdwn(text: string, max: number): string {
  const escaped = escapeMrkdwn(text);
  if (escaped.length <= max) return escaped;
  return `${escaped.slice(0, max - 1).replace(/&[a-z]*$/, '')}…`;
}

/**
 * Slack's event text as plain text: `<https://x|label>` → `label (https://x)`,
 * `<https://x>` → `https://x`, `<mailto:a@b|a@b>` → `a@b`, `<@U1>` → `@U1`,
 * `<#C1|general>` → `#general`, `<!here>` → `@here`, then `&lt;` `&gt;` `&amp;`.
 */
export function fromSlackText(text: string): string {
  const plain = text.replace(/<([^<>]*)>/g, (_, inner: string) => {
    const bar = inner.indexOf('|');
    const target = bar < 0 ? inner : inner.slice(0, bar);
    const label = bar < 0 ? undefined : inner.slice(bar + 1) || undefined;
    if (target.startsWith('@') || target.startsWith('#')) return label ? `${target[0]}${label}` : target;
    if (target.startsWith('!')) {
      const special = target.slice(1).split('^')[0]!;
      return label ?? (['here', 'channel', 'everyone'].includes(special) ? `@${special}` : special);
    }
    if (target.startsWith('mailto:')) return label ?? target.slice('mailto:'.length);
    return label && label !== target ? `${label} (${target})` : target;
  });
  return plain.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}
