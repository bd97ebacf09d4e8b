import type { BranchConfig, ManagerConfig } from '../config/config-schema.js';

/** A manager's chat id on a channel, if they have one. */
export function identityOn(manager: ManagerConfig, channel: string): string | undefined {
  if (channel === 'slack') return manager.slack;
  if (channel === 'telegram') return manager.telegram;
  if (channel === 'whatsapp') return manager.whatsapp;
  return undefined;
}

/** The manager a chat user is, matched by their identity on that channel (WhatsApp by phone digits). */
export function managerByIdentity(branch: BranchConfig, channel: string, userId: string): ManagerConfig | undefined {
  const digits = (v: string) => v.replace(/\D/g, '');
  return branch.managers.find((m) => {
    const id = identityOn(m, channel);
    if (!id) return false;
    return channel === 'whatsapp' ? digits(id) === digits(userId.split('@')[0]) : id === userId;
  });
}
