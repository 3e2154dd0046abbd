import { Type } from "typebox";
import type { TokenView } from "./token.service.ts";
import type { UserView } from "./user.service.ts";

const Time = Type.String({ format: "date-time" });
const MaybeTime = Type.Union([Time, Type.Null()]);
const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export const TokenInfo = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    kind: Type.String({ description: "session, api or child" }),
    principalId: Type.String(),
    principalName: Type.Optional(Type.String({ description: "Username or service account name (on token/self)" })),
    parentId: Type.Union([Type.String(), Type.Null()]),
    workspaceId: Type.Union([Type.String(), Type.Null()]),
    secrets: Type.Union([Type.Array(Type.String()), Type.Null()]),
    access: Type.String(),
    cidrs: Type.Union([Type.Array(Type.String()), Type.Null()]),
    expiresAt: MaybeTime,
    createdAt: Time,
    labels: Type.Record(Type.String(), Type.String(), { description: "Attribution for the audit of relayed calls: agent, session" }),
    relayUsesPerHour: Type.Union([Type.Integer(), Type.Null()], { description: "Relayed uses per secret per hour; null: no cap" }),
  },
  { $id: "TokenInfo" },
);

export const NewToken = Type.Object({ token: Type.String({ description: "Shown once; store it now" }), info: Type.Ref("TokenInfo") });

export const ScopeBody = Type.Object(
  {
    name: Type.Optional(Type.String({ maxLength: 100 })),
    workspace: Type.Optional(Type.String({ description: "Limit the token to this workspace (id or name)" })),
    secrets: Type.Optional(Type.Array(Type.String(), { description: "Secret name patterns, e.g. OPENAI_* (* and ? wildcards)" })),
    access: Type.Optional(Type.String({ description: "Highest level: see, use, read, write or manage" })),
    ttl: Type.Optional(Type.Integer({ minimum: 1, description: "Lifetime in seconds" })),
    cidrs: Type.Optional(Type.Array(Type.String(), { description: "Source address ranges, e.g. 10.0.0.0/8" })),
    labels: Type.Optional(
      Type.Object(
        { agent: Type.Optional(Type.String()), session: Type.Optional(Type.String()) },
        { additionalProperties: false, description: "Attribution recorded with each relayed call (a child inherits its parent's unless given)" },
      ),
    ),
    relayUsesPerHour: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000, description: "Cap on relayed uses per secret per hour (a child's cannot exceed its parent's)" })),
  },
  { additionalProperties: false },
);

export const User = Type.Object(
  { id: Type.String(), username: Type.String(), admin: Type.Boolean(), disabled: Type.Boolean(), hasPassword: Type.Boolean(), createdAt: Time },
  { $id: "User" },
);

export function tokenView(info: TokenView) {
  return { ...info, expiresAt: iso(info.expiresAt), createdAt: new Date(info.createdAt).toISOString() };
}

export function userView(user: UserView) {
  return { ...user, createdAt: new Date(user.createdAt).toISOString() };
}
