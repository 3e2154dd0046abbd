import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { Type } from "typebox";
import { errorResponses } from "../http/schemas.ts";
import { requireInstanceAdmin } from "../identity/guards.ts";
import type { BackupService } from "./backup.service.ts";

export const backupRoutes: FastifyPluginAsyncTypebox<{ backups: BackupService }> = async (app, { backups }) => {
  app.get("/api/v1/sys/backup", {
    config: { audit: "sys.backup" },
    schema: {
      tags: ["sys"],
      summary: "A consistent, encrypted snapshot of the whole store, streamed (administrators, full-scope token)",
      description:
        "The body is the backup file: every table, encrypted under a key derived from the root key (restore with `coffer operator restore`). " +
        "Coffer-Backup-Tables and Coffer-Backup-Rows say how much it holds.",
      response: {
        200: {
          description: "The backup file",
          content: { "application/octet-stream": { schema: Type.String({ format: "binary" }) } },
          headers: { "coffer-backup-tables": Type.Integer(), "coffer-backup-rows": Type.Integer() },
        },
        ...errorResponses,
      },
    },
    handler: async (request, reply) => {
      requireInstanceAdmin(request.principal, "take backups");
      const { manifest, body } = await backups.open();
      const stamp = manifest.createdAt.replace(/[:.]/g, "-");
      return reply
        .header("content-type", "application/octet-stream")
        .header("content-disposition", `attachment; filename="coffer-backup-${stamp}.cbk"`)
        .header("cache-control", "no-store")
        .header("coffer-backup-tables", String(manifest.tables.length))
        .header("coffer-backup-rows", String(manifest.tables.reduce((sum, table) => sum + table.rows, 0)))
        .send(body);
    },
  });
};
