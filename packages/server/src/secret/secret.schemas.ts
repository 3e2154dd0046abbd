import { APPROVAL_SETTINGS, CANARY_FORMATS, LIMITS, ROTATION_STATUSES, SECRET_SCOPES, SECRET_TYPES } from "@coffer/protocol";
import { Type } from "typebox";
import { MAX_INTERVAL_DAYS } from "../rotation/rotation.rules.ts";

const Scope = Type.Union(SECRET_SCOPES.map((scope) => Type.Literal(scope)), {
  description: "'shared' (the workspace's) or 'personal' (the caller's own); default shared",
});

export const SecretParams = Type.Object({
  workspace: Type.String({ description: "Workspace id or name" }),
  secret: Type.String({ description: "Secret id (sec_…) or name; a path name travels URL-encoded (payments%2Fstripe)" }),
});

export const ScopeQuery = Type.Object({ scope: Type.Optional(Scope) }, { additionalProperties: false });

export const ReadQuery = Type.Object(
  { scope: Type.Optional(Scope), version: Type.Optional(Type.Integer({ minimum: 1 })) },
  { additionalProperties: false },
);

export const DeleteQuery = Type.Object(
  {
    scope: Type.Optional(Scope),
    permanent: Type.Optional(Type.Boolean({ description: "Destroy the secret and every version for good instead of soft-deleting it" })),
  },
  { additionalProperties: false },
);

export const ListQuery = Type.Object(
  {
    scope: Type.Optional(Scope),
    prefix: Type.Optional(Type.String({ description: "A folder ending in '/': list only names under it" })),
    recursive: Type.Optional(Type.Boolean({ description: "Include names in sub-folders (default true); false lists them as folders" })),
    search: Type.Optional(Type.String({ maxLength: LIMITS.nameLength, description: "Case-insensitive part of the name" })),
    deleted: Type.Optional(Type.Union([Type.Literal("exclude"), Type.Literal("include"), Type.Literal("only")])),
    cursor: Type.Optional(Type.String({ description: "nextCursor of the previous page" })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
    rotation: Type.Optional(Type.Literal("due", { description: "'due': only secrets due or overdue for rotation" })),
  },
  { additionalProperties: false },
);

const Data = Type.Record(Type.String(), Type.String(), { description: "Key/value pairs; keys are [A-Za-z0-9_.-]" });
const DataPatch = Type.Record(Type.String(), Type.Union([Type.String(), Type.Null()]), {
  description: "Keys to set; null removes a key",
});
const Label = Type.String({ maxLength: LIMITS.labelLength });
const Tags = Type.Array(Type.String(), { maxItems: LIMITS.maxTags });
const RotationIntervalDays = Type.Union([Type.Integer({ minimum: 1, maximum: MAX_INTERVAL_DAYS }), Type.Null()], {
  description: "Days between rotations of the value; null clears it, so the workspace default for the label applies",
});
const AutoRotate = Type.Boolean({ description: "HMAC and INTERNAL_API_KEY only: Coffer writes a new generated value when due" });
// Checked by the core (secret.rules.ts checkExpiry), whose message says what a date-time looks like.
const ExpiresAt = Type.Union([Type.String(), Type.Null()], {
  description: "From this time on the value is neither read nor used (SECRET_EXPIRED 410); a warning alert goes out before (the workspace's expiryWarningDays); null: never",
});
const rotationFields = { rotationIntervalDays: Type.Optional(RotationIntervalDays), autoRotate: Type.Optional(AutoRotate), expiresAt: Type.Optional(ExpiresAt) };
const Cas = Type.Integer({ minimum: 0, description: "Check-and-set: fail with VERSION_CONFLICT unless this is the current version" });

export const CreateBody = Type.Object(
  {
    name: Type.String({ description: "'/'-separated path of [A-Za-z0-9_.-] segments, at most 256 characters" }),
    scope: Type.Optional(Scope),
    type: Type.Optional(Type.String({ description: `One of ${SECRET_TYPES.join(", ")}; default USER_DEFINED` })),
    label: Type.Optional(Label),
    tags: Type.Optional(Tags),
    data: Type.Optional(Data),
    ...rotationFields,
    canary: Type.Optional(Type.Boolean({ description: "A canary: Coffer generates a decoy value (give no data), and any read or use of it raises canary.triggered" })),
    canaryFormat: Type.Optional(
      Type.Union(CANARY_FORMATS.map((format) => Type.Literal(format)), { description: `The decoy of a USER_DEFINED canary: ${CANARY_FORMATS.join(", ")}; default aws` }),
    ),
  },
  { additionalProperties: false },
);

export const ReplaceBody = Type.Object(
  {
    data: Data,
    type: Type.Optional(Type.String({ description: "Used when PUT creates the secret; a different type is refused" })),
    label: Type.Optional(Label),
    tags: Type.Optional(Tags),
    cas: Type.Optional(Cas),
    ...rotationFields,
  },
  { additionalProperties: false },
);

export const PatchBody = Type.Object(
  { data: Type.Optional(DataPatch), label: Type.Optional(Label), tags: Type.Optional(Tags), cas: Type.Optional(Cas), ...rotationFields },
  { additionalProperties: false },
);

export const RollbackBody = Type.Object(
  { version: Type.Integer({ minimum: 1 }), cas: Type.Optional(Cas) },
  { additionalProperties: false },
);

export const VersionParams = Type.Object({
  workspace: Type.String(),
  secret: Type.String(),
  version: Type.Integer({ minimum: 1 }),
});

const summaryFields = {
  id: Type.String(),
  name: Type.String(),
  scope: Scope,
  type: Type.String(),
  label: Type.String(),
  tags: Type.Array(Type.String()),
  keys: Type.Array(Type.String()),
  version: Type.Integer(),
  createdAt: Type.String({ format: "date-time" }),
  updatedAt: Type.String({ format: "date-time", description: "When this version's value was written" }),
  ageDays: Type.Integer({ description: "Whole days since this version's value was written" }),
  deletedAt: Type.Union([Type.String({ format: "date-time" }), Type.Null()]),
  autoRotate: Type.Boolean({ description: "Whether Coffer writes a new generated value when due" }),
  expiresAt: Type.Optional(Type.String({ format: "date-time", description: "From this time on the value is neither read nor used (SECRET_EXPIRED 410); absent: never" })),
  rotation: Type.Optional(
    Type.Object(
      {
        intervalDays: Type.Integer(),
        rotatedAt: Type.String({ format: "date-time", description: "When the current value was written" }),
        dueAt: Type.String({ format: "date-time" }),
        status: Type.Union(ROTATION_STATUSES.map((status) => Type.Literal(status)), {
          description: "ok; due from 7 days before dueAt (half the interval when shorter); overdue from dueAt",
        }),
      },
      { description: "Present when an interval applies: the secret's own, else the workspace default for its label" },
    ),
  ),
};

export const SecretSummary = Type.Object(summaryFields, { $id: "SecretSummary" });
export const Secret = Type.Object(
  { ...summaryFields, data: Type.Optional(Type.Record(Type.String(), Type.String(), { description: "Key/value pairs; absent when a write was sent with `Prefer: return=minimal`" })) },
  { $id: "Secret" },
);


export const SecretList = Type.Object({
  items: Type.Array(Type.Ref("SecretSummary")),
  folders: Type.Array(Type.String(), { description: "Sub-folders, when recursive=false" }),
  nextCursor: Type.Union([Type.String(), Type.Null()]),
});

const VersionInfo = Type.Object({
  version: Type.Integer(),
  keys: Type.Array(Type.String()),
  createdAt: Type.String({ format: "date-time" }),
  createdBy: Type.String(),
  current: Type.Boolean(),
  deletedAt: Type.Union([Type.String({ format: "date-time" }), Type.Null()], { description: "When the version was, or (scheduled by deleteVersionAfter) will be, soft-deleted" }),
  destroyed: Type.Boolean({ description: "The value is gone for good" }),
});

export const VersionList = Type.Object({ versions: Type.Array(VersionInfo) });

export const VersionsBody = Type.Object(
  { versions: Type.Array(Type.Integer({ minimum: 1 }), { minItems: 1, maxItems: 1000, description: "Version numbers; ones that do not exist are ignored" }) },
  { additionalProperties: false },
);

export const DeleteVersionsBody = Type.Object(
  { versions: Type.Optional(VersionsBody.properties.versions) },
  { additionalProperties: false, description: "Without versions: the current version" },
);

const CustomMetadata = Type.Record(Type.String(), Type.String({ maxLength: LIMITS.customMetadataValueLength }), {
  description: `The owner's notes (never values): at most ${LIMITS.customMetadataKeys} keys`,
});

const settingsFields = {
  casRequired: Type.Boolean({ description: "Writes must give check-and-set (cas)" }),
  maxVersions: Type.Union([Type.Integer({ minimum: 1, maximum: 1000 }), Type.Null()], { description: "Versions kept; null: the workspace's" }),
  deleteVersionAfter: Type.Integer({ minimum: 0, description: "Seconds after which each new version is deleted; 0: the workspace's setting" }),
  customMetadata: CustomMetadata,
  approval: Type.Union(APPROVAL_SETTINGS.map((setting) => Type.Literal(setting)), {
    description: "Who needs a person's approval for each use: none, agents (tokens with an agent label) or all; changing it needs manage",
  }),
};

const RelayPolicy = Type.Object(
  {
    hosts: Type.Array(Type.String(), { description: "Exact host names, or *.example.com for any subdomain" }),
    schemes: Type.Array(Type.String(), { description: "https and/or http; default https" }),
    ports: Type.Array(Type.Integer(), { description: "Allowed ports; empty: the scheme's default port" }),
    methods: Type.Array(Type.String(), { description: "Allowed methods; empty: any" }),
    headers: Type.Array(Type.String(), { description: "Headers the value may be placed in" }),
    query: Type.Array(Type.String(), { description: "Query parameters the value may be placed in" }),
    body: Type.Boolean({ description: "Whether the value may be placed in the body" }),
    addresses: Type.Array(Type.String(), { description: "Loopback/private/link-local IPs or CIDRs the hosts may resolve to" }),
  },
  { description: "Where the relay may send the value (docs/relay.md); null: it cannot be relayed" },
);

export const SettingsBody = Type.Partial(
  Type.Object(
    {
      ...settingsFields,
      expiresAt: ExpiresAt,
      // Checked by the core (relay/relay-policy.ts), whose messages name the field and the rule.
      relayPolicy: Type.Unsafe<unknown>({ description: "Set (fields omitted take their defaults) or, with null, remove the relay policy; needs manage" }),
    },
    { additionalProperties: false },
  ),
  { additionalProperties: false },
);

/** Everything but the value: what the web UI and Vault's metadata read show. */
export const SecretMetadata = Type.Object({
  ...summaryFields,
  access: Type.String({ description: "The caller's level on this secret: see, use, read, write or manage" }),
  canary: Type.Optional(Type.Boolean({ description: "A canary (docs/agents.md): shown only to callers who manage the secret, so a thief cannot tell" })),
  ...settingsFields,
  relayPolicy: Type.Union([RelayPolicy, Type.Null()]),
  currentVersion: Type.Integer(),
  oldestVersion: Type.Integer(),
  versions: Type.Array(VersionInfo),
});

export const FolderQuery = Type.Object(
  {
    scope: Type.Optional(Scope),
    prefix: Type.Optional(Type.String({ maxLength: LIMITS.nameLength, description: "The folder to look into, ending in '/'; empty or absent: the top" })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 1000, description: "At most this many folders, the first by name" })),
  },
  { additionalProperties: false },
);

export const FolderLevel = Type.Object({
  prefix: Type.String(),
  folders: Type.Array(Type.Object({ path: Type.String({ description: "The folder, ending in '/'" }), secrets: Type.Integer({ description: "Secrets the caller sees in it, sub-folders included" }) })),
  secrets: Type.Integer({ description: "Secrets the caller sees directly in this folder" }),
  truncated: Type.Boolean({ description: "More folders than limit: only the first are listed" }),
});
