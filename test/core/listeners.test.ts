import { describe, expect, it } from '@jest/globals';
import { Listeners } from '../../src/core/listeners.js';

describe('Listeners', () => {
  it('a listener that throws does not keep the event from the others; the failure still surfaces', () => {
    const listeners = new Listeners<number>();
    const got: string[] = [];
    listeners.add((n) => got.push(`a${n}`));
    listeners.add(() => {
      throw new Error('boom');
    });
    listeners.add((n) => got.push(`c${n}`));
    expect(() => listeners.emit(1)).toThrow('boom');
    expect(got).toEqual(['a1', 'c1']);
  });
});
