import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { Type } from "typebox";
import { errorResponses, WorkspaceParams } from "../http/schemas.ts";
import type { AlertService, AlertView } from "./alert.service.ts";
import { ALERT_TYPES } from "./alert.types.ts";
import type { DeliveryView, WebhookService, WebhookView } from "./webhook.service.ts";

const Alert = Type.Object(
  {
    id: Type.String(),
    time: Type.String({ format: "date-time" }),
    type: Type.String({ description: ALERT_TYPES.join(", ") }),
    workspaceId: Type.Union([Type.String(), Type.Null()], { description: "null for an instance-wide alert" }),
    message: Type.String(),
    details: Type.Record(Type.String(), Type.Union([Type.String(), Type.Number(), Type.Null()])),
  },
  { $id: "Alert" },
);

const Webhook = Type.Object(
  {
    id: Type.String(),
    url: Type.String(),
    events: Type.Array(Type.String()),
    createdAt: Type.String({ format: "date-time" }),
    createdBy: Type.String(),
  },
  { $id: "Webhook" },
);

const Delivery = Type.Object({
  id: Type.String(),
  alertId: Type.String(),
  state: Type.String({ description: "pending, delivered or failed (gave up)" }),
  attempts: Type.Integer(),
  lastStatus: Type.Union([Type.Integer(), Type.Null()], { description: "The receiver's last HTTP status" }),
  lastError: Type.Union([Type.String(), Type.Null()]),
  nextAttemptAt: Type.Union([Type.String({ format: "date-time" }), Type.Null()]),
  createdAt: Type.String({ format: "date-time" }),
  updatedAt: Type.String({ format: "date-time" }),
});

const iso = (ms: number) => new Date(ms).toISOString();
const alertView = (alert: AlertView) => ({ ...alert, time: iso(alert.time) });
const webhookView = (webhook: WebhookView) => ({ ...webhook, createdAt: iso(webhook.createdAt) });
const deliveryView = (d: DeliveryView) => ({ ...d, nextAttemptAt: d.nextAttemptAt === null ? null : iso(d.nextAttemptAt), createdAt: iso(d.createdAt), updatedAt: iso(d.updatedAt) });
const Limit = Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })) });

export const alertRoutes: FastifyPluginAsyncTypebox<{ alerts: AlertService; webhooks: WebhookService }> = async (app, { alerts, webhooks }) => {
  app.addSchema(Alert);
  app.addSchema(Webhook);
  const tags = ["alerts"];
  const base = "/api/v1/workspaces/:workspace/webhooks";
  const WebhookParams = Type.Object({ workspace: Type.String(), webhook: Type.String() });

  app.get("/api/v1/alerts", {
    config: { audit: "alert.list" },
    schema: { tags, summary: "Recent alerts of every workspace and instance-wide ones (instance admins)", querystring: Limit, response: { 200: Type.Object({ alerts: Type.Array(Type.Ref("Alert")) }), ...errorResponses } },
    handler: async (request) => ({ alerts: (await alerts.list(request.principal, undefined, request.query.limit)).map(alertView) }),
  });

  app.get("/api/v1/workspaces/:workspace/alerts", {
    config: { audit: "alert.list" },
    schema: { tags, summary: "A workspace's recent alerts (owners and admins)", params: WorkspaceParams, querystring: Limit, response: { 200: Type.Object({ alerts: Type.Array(Type.Ref("Alert")) }), ...errorResponses } },
    handler: async (request) => ({ alerts: (await alerts.list(request.principal, request.params.workspace, request.query.limit)).map(alertView) }),
  });

  app.get(base, {
    config: { audit: "webhook.list" },
    schema: { tags, summary: "The workspace's webhooks (owners and admins); never their signing keys", params: WorkspaceParams, response: { 200: Type.Object({ webhooks: Type.Array(Type.Ref("Webhook")) }), ...errorResponses } },
    handler: async (request) => ({ webhooks: (await webhooks.list(request.principal, request.params.workspace)).map(webhookView) }),
  });

  app.post(base, {
    config: { audit: "webhook.create" },
    schema: {
      tags,
      summary: "Add a webhook; its signing key is in the answer, once",
      params: WorkspaceParams,
      body: Type.Object(
        {
          url: Type.String({ maxLength: 2048, description: "http(s) endpoint that receives signed POSTs" }),
          events: Type.Array(Type.String(), { minItems: 1, maxItems: ALERT_TYPES.length + 1, description: `"*" or any of ${ALERT_TYPES.join(", ")}` }),
        },
        { additionalProperties: false },
      ),
      response: { 201: Type.Object({ webhook: Type.Ref("Webhook"), signingKey: Type.String({ description: "whsec_…: verifies the Coffer-Signature header; shown once" }) }), ...errorResponses },
    },
    handler: async (request, reply) => {
      const created = await webhooks.create(request.principal, request.params.workspace, request.body);
      request.auditTarget.subject = created.webhook.id;
      return reply.code(201).send({ webhook: webhookView(created.webhook), signingKey: created.signingKey });
    },
  });

  app.delete(`${base}/:webhook`, {
    config: { audit: "webhook.delete" },
    schema: { tags, summary: "Remove a webhook and its pending deliveries", params: WebhookParams, response: { 204: Type.Null(), ...errorResponses } },
    handler: async (request, reply) => {
      await webhooks.delete(request.principal, request.params.workspace, request.params.webhook);
      return reply.code(204).send(null);
    },
  });

  app.get(`${base}/:webhook/deliveries`, {
    config: { audit: "webhook.deliveries" },
    schema: { tags, summary: "A webhook's recent deliveries: attempts, statuses, errors", params: WebhookParams, response: { 200: Type.Object({ deliveries: Type.Array(Delivery) }), ...errorResponses } },
    handler: async (request) => ({ deliveries: (await webhooks.deliveries(request.principal, request.params.workspace, request.params.webhook)).map(deliveryView) }),
  });
};
