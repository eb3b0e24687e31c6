import type { Store, VerifyResult } from '../../store/index.js';

/**
 * What the chat asks of the account store: a registered name belongs to its account, so only a
 * client that gives the password may use it (wharf clients), and seed clients, which cannot give
 * one, may not.
 */
export interface ChatAccounts {
  isAccount(name: string): Promise<boolean>;
  verify(name: string, password: string, clientIp: string): Promise<VerifyResult>;
}

export function storeAccounts(store: Pick<Store, 'accounts'>): ChatAccounts {
  return {
    async isAccount(name) {
      return (await store.accounts.get(name)) !== undefined;
    },
    verify: (name, password, clientIp) => store.accounts.verify(name, password, clientIp),
  };
}

/** No accounts at all (a library user without a store): every free name may be used. */
export const noAccounts: ChatAccounts = {
  isAccount: async () => false,
  verify: async () => ({ ok: false, reason: 'bad-credentials', delayMs: 0 }),
};
