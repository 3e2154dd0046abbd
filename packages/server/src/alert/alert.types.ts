/** What can raise an alert, and so what a webhook can subscribe to. */
export const ALERT_TYPES = [
  "auth.failures", //        failed logins or failed token use crossing the threshold
  "access.denied", //        a known caller refused on a workspace or a secret
  "secret.created",
  "secret.updated",
  "secret.deleted",
  "secret.rolled_back",
  "rotation.due", //         a secret's rotation falls due soon (reminder)
  "rotation.overdue", //     …and is now past due
  "key.rotated", //          a new data key version (instance-wide)
  "approval.requested", //   a use or a grant waits for a person's approval (raised at once)
  "canary.triggered", //     a canary secret's decoy was read or used (high severity)
  "secret.expiring", //      a secret expires within the workspace's expiryWarningDays (once per expiry)
  "secret.unused", //        a secret has not been read or used for the workspace's unusedAlertDays
] as const;

export type AlertType = (typeof ALERT_TYPES)[number];

/**
 * Instance-wide alerts every workspace hears. Other instance-wide alerts (a
 * failed login for an unknown name) go to instance administrators only: they
 * would tell one workspace about another's users.
 */
export const BROADCAST: ReadonlySet<AlertType> = new Set(["key.rotated"]);

export interface AlertInput {
  type: AlertType;
  /** null: instance-wide (heard by every workspace if BROADCAST, else by instance administrators only). */
  workspaceId: string | null;
  /** For people: names and counts, never a value. */
  message: string;
  details: Record<string, string | number | null>;
}

export interface Alert extends AlertInput {
  id: string;
  time: number;
}
