/** An audit event as the API answers it (GET /api/v1/audit, one line of the export). Never a value. */
export interface AuditEventJson {
  seq: number;
  time: string;
  actor: { kind: string; id?: string; name?: string; tokenId?: string };
  action: string;
  outcome: string;
  status: number;
  workspaceId?: string;
  secretId?: string;
  secretName?: string;
  subject?: string;
  ip: string;
  userAgent: string;
  requestId: string;
  /** SHA-256 chaining this event to the one before. */
  hash: string;
}
