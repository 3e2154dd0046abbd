/**
 * What the rotation job tells the rest of the server: reminders before and at
 * a secret's due date, and self-rotations. Webhooks (and anything else)
 * subscribe here; the job only publishes. Events carry ids and names, never
 * a value. A self-rotation has no request to audit: the audit log records
 * `secret.rotated` as the action `secret.auto-rotate`.
 */
export type RotationEventType = "rotation.due" | "rotation.overdue" | "secret.rotated";

export interface RotationEvent {
  type: RotationEventType;
  workspaceId: string;
  secretId: string;
  secretName: string;
  /** The version the event is about: the one due, or the one a rotation wrote. */
  version: number;
  /** ISO time the value is (or, for secret.rotated, the new value will be) due. */
  dueAt: string;
}

/** The one thing the job needs. */
export interface RotationEventPublisher {
  publish(event: RotationEvent): void;
}

export type RotationEventListener = (event: RotationEvent) => void;

/** In-process fan-out; a failing listener neither stops the others nor the job. */
export class RotationEvents implements RotationEventPublisher {
  #listeners = new Set<RotationEventListener>();
  #onError: (error: unknown) => void;

  constructor(onError: (error: unknown) => void = () => {}) {
    this.#onError = onError;
  }

  subscribe(listener: RotationEventListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  publish(event: RotationEvent): void {
    for (const listener of this.#listeners) {
      try {
        listener(event);
      } catch (error) {
        this.#onError(error);
      }
    }
  }
}
