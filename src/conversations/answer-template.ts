import type { BranchConfig } from '../config/config-schema.js';
import { describeHours } from './business-hours.js';

/** What `{...}` placeholders in answers stand for at one branch. */
export interface TemplateFields {
  branch: string;
  business: string;
  address: string;
  hours: string;
  phone: string;
  rates: Record<string, { buy: number; sell: number }>;
}

export function branchFields(branch: BranchConfig, businessName: string): TemplateFields {
  return {
    branch: branch.name,
    business: businessName,
    address: branch.address ?? '',
    hours: describeHours(branch.businessHours),
    phone: branch.responder.phone ?? '',
    rates: branch.responder.rates,
  };
}

// One formatter for every answer: `toLocaleString` with options builds a new one at each call.
const MONEY = new Intl.NumberFormat('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 4, useGrouping: false });
const money = (n: number) => MONEY.format(n);

/**
 * Fills `{branch}`, `{address}`, `{hours}`, `{rates}` (a table), `{rates.USD.buy}`…
 * Templates were checked at start-up (unknown names are config errors), and
 * substituted values are never themselves expanded.
 */
export function renderTemplate(template: string, fields: TemplateFields): string {
  return template.replace(/\{([a-zA-Z_][\w.-]*)\}/g, (whole, name: string) => {
    const [head, code, side] = name.split('.');
    if (head === 'rates') {
      const entry = Object.entries(fields.rates).find(([c]) => c.toLowerCase() === (code ?? '').toLowerCase());
      if (code === undefined) return Object.entries(fields.rates).map(([c, r]) => `${c.toUpperCase()}: buy ${money(r.buy)} / sell ${money(r.sell)}`).join('\n');
      if (!entry) return whole;
      if (side === 'buy' || side === 'sell') return money(entry[1][side]);
      return `${entry[0].toUpperCase()}: buy ${money(entry[1].buy)} / sell ${money(entry[1].sell)}`;
    }
    const value = (fields as unknown as Record<string, unknown>)[head!];
    return typeof value === 'string' ? value : whole;
  });
}
