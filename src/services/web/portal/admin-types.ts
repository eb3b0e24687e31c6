/**
 * The admin API's JSON, shared by the server (admin.ts) and the admin page (page.ts): types
 * only, so the page's bundle carries nothing of the server's.
 */

/** An account as the admin page shows it. */
export interface AdminAccount {
  name: string;
  admin: boolean;
  disabled: boolean;
  quotaBytes: number;
  bytesUsed: number;
  createdAt: string;
}
