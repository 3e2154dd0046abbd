/** Appends through the writer thread (see audit-writer.worker.ts). */
import { Worker } from "node:worker_threads";
import type { AuditAppender } from "./audit-append.ts";
import type { AuditRecord } from "./audit.types.ts";

export interface ThreadAppender {
  append: AuditAppender;
  close(): Promise<void>;
}

export function appendInThread(sqliteFile: string): ThreadAppender {
  const worker = new Worker(new URL("./audit-writer.worker.ts", import.meta.url), { workerData: { path: sqliteFile } });
  const waiting = new Map<number, { resolve(records: AuditRecord[]): void; reject(error: Error): void }>();
  let next = 0;
  const failAll = (error: Error) => {
    for (const { reject } of waiting.values()) reject(error);
    waiting.clear();
  };
  worker.on("message", ({ id, records, error }: { id: number; records?: AuditRecord[]; error?: string }) => {
    const entry = waiting.get(id);
    waiting.delete(id);
    if (waiting.size === 0) worker.unref();
    if (error !== undefined) entry?.reject(new Error(error));
    else entry?.resolve(records!);
  });
  worker.on("error", failAll);
  worker.on("exit", () => failAll(new Error("the audit writer thread stopped")));
  // Referenced only while a batch is on its way, so an idle writer never keeps the process alive.
  worker.unref();
  return {
    append: (events) =>
      new Promise((resolve, reject) => {
        const id = next++;
        if (waiting.size === 0) worker.ref();
        waiting.set(id, { resolve, reject });
        worker.postMessage({ id, events });
      }),
    close: async () => {
      await worker.terminate();
    },
  };
}
