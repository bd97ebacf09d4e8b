import type { ChannelRegistry } from '../bots/channel-registry.js';
import type { BranchConfig, ManagerConfig } from '../config/config-schema.js';

/** A manager's chat id on a channel, if they have one (by the channel's identity key: both WhatsApp channels read `whatsapp`). */
export function identityOn(manager: ManagerConfig, channel: string, channels: ChannelRegistry): string | undefined {
  const key = channels.find(channel)?.identity?.key;
  return key === undefined ? undefined : manager.identities[key];
}

/** The manager a chat user is, matched by the channel's own rule (WhatsApp by phone digits, others by id). */
export function managerByIdentity(branch: BranchConfig, channel: string, userId: string, channels: ChannelRegistry): ManagerConfig | undefined {
  const identity = channels.find(channel)?.identity;
  if (!identity) return undefined;
  return branch.managers.find((m) => {
    const configured = m.identities[identity.key];
    return configured !== undefined && identity.matches(configured, userId);
  });
}
