import { describe, expect, it } from '@jest/globals';
import { builtinChannels } from '../../src/bots/channels.js';
import { cloudChatLookup, whatsappCloudChannel } from '../../src/bots/whatsapp-cloud/whatsapp-cloud-channel.js';
import { parseConfig } from '../../src/config/config-file.js';

const channels = builtinChannels();
const tree = (agent: Record<string, unknown>) => ({ branches: [{ id: 'b', name: 'B', agents: [{ id: 'wa', channel: 'whatsapp-cloud', ...agent }] }] });
const issues = (agent: Record<string, unknown>) => {
  try {
    parseConfig(tree(agent), {}, channels);
    return [];
  } catch (error) {
    return (error as { issues: Array<{ path: string; message: string }> }).issues;
  }
};

describe('whatsapp-cloud agent config', () => {
  it('takes the documented fields with their defaults', () => {
    const agent = parseConfig(tree({ phoneNumberId: '1065403', accessToken: 't', appSecret: 's', verifyToken: 'v' }), {}, channels).branches[0]!.agents[0]!;
    expect(agent).toMatchObject({ graphApiVersion: 'v26.0', retry: { attempts: 3, baseMs: 1000, maxMs: 30_000 }, requestTimeoutMs: 15_000 });
    expect(agent.missingCredentials).toBeUndefined();
  });

  it('reports unset credentials as missing, not as an error', () => {
    const agent = parseConfig(tree({ accessToken: '${NOPE}' }), {}, channels).branches[0]!.agents[0]!;
    expect(agent.missingCredentials).toEqual(['NOPE']);
    expect(parseConfig(tree({}), {}, channels).branches[0]!.agents[0]!.missingCredentials).toEqual(['accessToken', 'appSecret', 'verifyToken', 'phoneNumberId']);
  });

  it('explains wrong values', () => {
    const found = issues({ phoneNumberId: '+351 91', graphApiVersion: '23', retry: { attempts: 99, baseMs: 500, maxMs: 100 }, approvalTemplate: { name: 'Approval Request' } });
    const byPath = Object.fromEntries(found.map((i) => [i.path, i.message]));
    expect(byPath['branches[0].agents[0].phoneNumberId']).toMatch(/Phone number ID/);
    expect(byPath['branches[0].agents[0].graphApiVersion']).toMatch(/v26\.0/);
    expect(byPath['branches[0].agents[0].retry.attempts']).toMatch(/at most 8 retries/);
    expect(byPath['branches[0].agents[0].approvalTemplate.name']).toMatch(/template name/);
    expect(issues({ retry: { attempts: 1, baseMs: 500, maxMs: 100 } })[0]).toMatchObject({ path: 'branches[0].agents[0].retry.maxMs', message: 'expected maxMs to be at least baseMs' });
    // A credential pasted with a line break in it would reach an HTTP header: said at load, by field.
    const pasted = Object.fromEntries(issues({ accessToken: 'EAAG\nrest', appSecret: 'two words' }).map((i) => [i.path, i.message]));
    expect(pasted['branches[0].agents[0].accessToken']).toMatch(/access token as one line of printable characters/);
    expect(pasted['branches[0].agents[0].appSecret']).toMatch(/app secret as one line/);
    expect(issues({ accessToken: '  EAAG-padded  ' })).toEqual([]);
  });

  it('finds a contact by a phone in any form', () => {
    for (const form of ['+351 910 000 001', '351910000001', '351910000001@s.whatsapp.net', '351910000001:3@s.whatsapp.net', '(351) 910-000-001']) {
      expect(cloudChatLookup(form)).toEqual({ externalId: '351910000001', phone: '351910000001' });
    }
    expect(cloudChatLookup('12345@lid')).toBeNull();
    expect(cloudChatLookup('1203630@g.us')).toBeNull();
    expect(cloudChatLookup('hello')).toBeNull();
    expect(whatsappCloudChannel.acceptsGroups!({} as never)).toBe(false);
  });
});
