/**
 * Every authenticated route names its audit action in `config: { audit:
 * "secret.read" }` (`<resource>.<verb>`), and handlers add what they learn to
 * `request.auditTarget` (ids and names, never values). The event is written
 * before the answer leaves: if it cannot be made durable the caller gets
 * AUDIT_UNAVAILABLE instead of the answer (unless the server runs fail-open).
 *
 * A route that answers a committed change with a status known beforehand
 * says so (`config: { auditOnCommit: 200 }`): its event, with that status, is
 * then written in the change's own transaction (request.changeAudit(), taken
 * by the services through SecretContext.from), so the request waits for one
 * sync, not two, and the event stands or falls with the change. If the
 * answer turns out otherwise (an error after the commit), the hook records
 * that answer as an event of its own.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { auditUnavailable, type AuditLog, type InCommit } from "../audit/audit.service.ts";
import { outcomeOf, type AuditEventInput, type AuditTarget, type ReadCondition } from "../audit/audit.types.ts";
import type { Clock } from "../core/clock.ts";
import { CofferError } from "../core/errors.ts";
import type { ChangeAudit } from "../core/request-origin.ts";

declare module "fastify" {
  interface FastifyContextConfig {
    audit?: string;
    /** The status the route answers once its change commits: the event then goes in the change's transaction. */
    auditOnCommit?: number;
  }
  interface FastifyRequest {
    auditTarget: AuditTarget;
    /** OriginSource.changeAudit: for a route with auditOnCommit, where the audit log can write in a change's transaction. */
    changeAudit(): ChangeAudit | undefined;
  }
  interface FastifyInstance {
    /**
     * For a read of `secret` answered from a node's cache on a store several
     * nodes share: records the request's event as answered only if `condition` still
     * holds, in one round trip (AuditLog.recordIfCurrent). true: recorded,
     * answer as planned; false: the read was stale or nothing was recorded,
     * so read the usual way (which the hook then audits).
     */
    recordReadIfCurrent(request: FastifyRequest, reply: FastifyReply, secret: { id: string; name: string }, condition: ReadCondition): Promise<boolean>;
  }
}

/** Set once a request's event is recorded, so the error answer for a failed write is not audited again. */
const recorded = Symbol("auditRecorded");
/** The status a request's event said, once it committed with its change: an answer with that status needs no other event. */
const committedStatus = Symbol("auditCommittedStatus");
/** A request waiting for its event's batch: the onSend hook's callback and the answer it passes on. */
const waitingDone = Symbol("auditWaitingDone");
const waitingPayload = Symbol("auditWaitingPayload");
type OnSendDone = (error: Error | null, payload?: unknown) => void;
type WaitingRequest = FastifyRequest & { [recorded]: boolean; [committedStatus]: number; [waitingDone]: OnSendDone | null; [waitingPayload]: unknown };
const USER_AGENT_MAX = 256;

export interface AuditHookOptions {
  log: AuditLog | null;
  clock: Clock;
  /** A workspace's id from an id or name: from the cache on the read path, else by a query (refusals, errors). */
  workspaceIdOf(ref: string): string | undefined | Promise<string | undefined>;
}

export function installAudit(app: FastifyInstance, { log, clock, workspaceIdOf }: AuditHookOptions): void {
  app.decorateRequest("auditTarget", null as unknown as AuditTarget);
  // Fields of every request rather than added to some: a request waiting for its batch keeps Fastify's
  // callback and the answer on itself, not in a closure of its own.
  app.decorateRequest(recorded as never, false as never);
  app.decorateRequest(committedStatus as never, 0 as never);
  app.decorateRequest(waitingDone as never, null as never);
  app.decorateRequest(waitingPayload as never, null as never);
  app.addHook("onRequest", (request, _reply, done) => {
    request.auditTarget = {};
    done();
  });
  app.decorate("recordReadIfCurrent", async (request: FastifyRequest, reply: FastifyReply, secret: { id: string; name: string }, condition: ReadCondition) => {
    const action = request.routeConfig.audit;
    if (log === null || action === undefined) return false;
    const answered = eventOf(request, request.auditTarget.action ?? action, reply.statusCode, clock(), request.auditTarget.workspaceId ?? null);
    const event = { ...answered, secretId: secret.id, secretName: secret.name };
    let current: boolean;
    try {
      current = await log.recordIfCurrent(event, condition);
    } catch {
      markRecorded(request);
      throw auditUnavailable();
    }
    if (current) {
      markRecorded(request);
      reply.header("x-request-id", request.id);
    }
    return current;
  });
  app.decorateRequest("changeAudit", function changeAudit(this: FastifyRequest): ChangeAudit | undefined {
    const { audit: action, auditOnCommit: status } = this.routeConfig;
    if (log === null || action === undefined || status === undefined || !log.appendsInCommit) return undefined;
    return changeAuditOf(this, log, clock, action, status);
  });
  if (log === null) return;
  // A request refused because its event could not be written (a change whose batch could not put its events on
  // the chain) is not audited again: that would fail the same way, and a failing hook after the error answer leaves
  // Fastify only its fallback, a 500.
  app.addHook("onError", (request, _reply, error, done) => {
    if (error instanceof CofferError && error.code === "AUDIT_UNAVAILABLE") markRecorded(request);
    done();
  });
  const record = (request: FastifyRequest, reply: FastifyReply, action: string, workspaceId: string | undefined, payload: unknown, done: OnSendDone): void => {
    const event = eventOf(request, request.auditTarget.action ?? action, reply.statusCode, clock(), workspaceId ?? null);
    const each = request.auditTarget.secrets;
    const read = request.method === "GET" || request.method === "HEAD";
    if (each === undefined) {
      const waiting = request as WaitingRequest;
      waiting[waitingDone] = done;
      waiting[waitingPayload] = payload;
      return log.recordThen(event, read, answerRecorded, waiting);
    }
    Promise.all(each.map((secret) => log.record({ ...event, secretId: secret.id ?? null, secretName: secret.name }, read))).then(
      () => done(null, payload),
      () => done(auditUnavailable()),
    );
  };
  // A callback hook: a request whose handler named its workspace waits on its batch and nothing else.
  app.addHook("onSend", (request, reply, payload, done) => {
    // A request refused before any hook ran (a framework error) has no route config, and so no audit action.
    const action = request.routeConfig?.audit;
    if (action === undefined || (request as WaitingRequest)[recorded]) return done(null, payload);
    (request as WaitingRequest)[recorded] = true;
    reply.header("x-request-id", request.id);
    if ((request as WaitingRequest)[committedStatus] === reply.statusCode) return done(null, payload);
    const known = request.auditTarget.workspaceId;
    const ref = (request.params as { workspace?: string } | undefined)?.workspace;
    if (known !== undefined || ref === undefined) record(request, reply, action, known, payload, done);
    else Promise.resolve(workspaceIdOf(ref)).then((id) => record(request, reply, action, id, payload, done), (error: Error) => done(error));
  });
}

/** One change's event, written in its transaction with the status the route answers once it commits. */
function changeAuditOf(request: FastifyRequest, log: AuditLog, clock: Clock, action: string, status: number): ChangeAudit {
  /** The event of the write's last run: the one that committed, when committed() is called. */
  let written: InCommit | undefined;
  return {
    async write(trx, target) {
      const event = { ...eventOf(request, request.auditTarget.action ?? action, status, clock(), target.workspaceId), secretId: target.secretId, secretName: target.secretName };
      written = await log.appendInCommit(trx, event);
    },
    committed() {
      (request as WaitingRequest)[committedStatus] = status;
      if (written !== undefined) log.committed(written);
      written = undefined;
    },
  };
}

/** AuditLog.recordThen's callback for a request's event: the answer goes out once the event is durable, else AUDIT_UNAVAILABLE. */
function answerRecorded(error: unknown, request: WaitingRequest): void {
  const done = request[waitingDone]!;
  const payload = request[waitingPayload];
  request[waitingDone] = request[waitingPayload] = null;
  if (error === null) done(null, payload);
  else done(auditUnavailable());
}


/** The event a request makes; routes that record their own events (the relay's, after a streamed answer) start from it. */
export function eventOf(request: FastifyRequest, action: string, status: number, time: number, workspaceId: string | null): AuditEventInput {
  const target = request.auditTarget;
  const params = (request.params ?? {}) as Record<string, string | undefined>;
  const principal = request.principal;
  let secretId = target.secretId ?? null;
  let secretName = target.secretName ?? null;
  // The secret as the path names it (the Vault adapter's path is its `*`), when the handler did not get as far as finding it.
  const named = params.secret ?? (params.mount !== undefined ? params["*"] : undefined);
  if (secretId === null && secretName === null && named) {
    if (named.startsWith("sec_")) secretId = named;
    else secretName = named;
  }
  const userAgent = request.headers["user-agent"] ?? "";
  return {
    time,
    actorKind: principal ? principal.kind : "anonymous",
    actorId: principal?.id ?? null,
    actorName: principal?.name ?? null,
    tokenId: principal?.tokenId ?? null,
    action,
    outcome: outcomeOf(status),
    status,
    workspaceId,
    secretId,
    secretName,
    subject: target.subject ?? otherParam(params) ?? null,
    ip: request.ip,
    userAgent: userAgent.length > USER_AGENT_MAX ? userAgent.slice(0, USER_AGENT_MAX) : userAgent,
    requestId: request.id,
  };
}

/** Path parameters that name the workspace, the secret (the Vault adapter's mount and path) or a version: not subjects. */
const TARGET_PARAMS = new Set(["workspace", "secret", "version", "mount", "*"]);

/** The objects a route acts on besides a workspace and a secret (a user, a group and its member…), named in its path. */
function otherParam(params: Record<string, string | undefined>): string | undefined {
  let subject: string | undefined;
  for (const key in params) {
    if (!TARGET_PARAMS.has(key)) subject = subject === undefined ? params[key] : `${subject}/${params[key]}`;
  }
  return subject;
}

/** For a route that records its own events (the relay's, once a streamed answer is over): the hook then records none. */
export function markRecorded(request: FastifyRequest): void {
  (request as WaitingRequest)[recorded] = true;
}

/** Adds what a handler learned to the request's audit target. */
export function noteTarget(request: { auditTarget: AuditTarget }, target: AuditTarget): void {
  Object.assign(request.auditTarget, target);
}
