/** What the shell learns from /portal/api/session (session-api.ts's `SessionAnswer`). */
export interface SectionInfo {
  readonly id: string;
  readonly title: { readonly en: string; readonly zh: string };
  readonly needsAccount: boolean;
  readonly needsAdmin: boolean;
}

export interface SessionState {
  readonly user: { readonly name: string; readonly admin: boolean } | null;
  readonly csrf: string;
  readonly sections: readonly SectionInfo[];
  readonly selfRegistration: boolean;
}

/** One service as the home and admin pages show it (core/service.ts's `ServiceStatusLine`). */
export interface ServiceLine {
  readonly name: string;
  readonly addresses: readonly string[];
  readonly connectionsOpen: number;
  readonly transfers?: number;
  readonly members?: { readonly count: number; readonly names: readonly string[] };
  readonly clientCommands?: ReadonlyArray<{ readonly summary: string; readonly command: string }>;
}
