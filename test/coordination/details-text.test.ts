import { describe, expect, it } from '@jest/globals';
import { detailsText } from '../../src/coordination/approvals/details-text.js';

describe('details as a manager reads them', () => {
  it('shows fields as key: value lines, nested ones by path, lists joined, never raw JSON', () => {
    expect(detailsText({ orderId: 1234, amount: { value: 20, currency: 'EUR' }, tags: ['vip', 'late'], note: null })).toBe(
      ['orderId: 1234', 'amount.value: 20', 'amount.currency: EUR', 'tags: vip, late', 'note: null'].join('\n'),
    );
    expect(detailsText('free text')).toBe('free text');
    expect(detailsText(undefined)).toBeUndefined();
    expect(detailsText({})).toBe('(empty): —');
  });

  it('folds long values and stops after 40 lines', () => {
    const long = detailsText({ body: 'x'.repeat(1000) })!;
    expect(long).toBe(`body: ${'x'.repeat(300)}… (700 more characters)`);
    const many = detailsText(Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`k${i}`, i])))!.split('\n');
    expect(many).toHaveLength(41);
    expect(many.at(-1)).toBe('… (more fields on the dashboard)');
  });

  it('shows objects nested deeper than three levels compactly on their line', () => {
    expect(detailsText({ a: { b: { c: { d: 1 } } } })).toBe('a.b.c: {"d":1}');
  });
});
