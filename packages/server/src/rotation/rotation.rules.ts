/**
 * When a secret's value is due for rotation. Pure functions of the interval,
 * the time of the last value change and the clock, so reads, lists, the
 * `due` filter and the reminder job all agree.
 *
 *   ok ──(remindAt)──▶ due ──(dueAt)──▶ overdue
 *
 * dueAt = rotatedAt + interval. The reminder window before it is 7 days, or
 * half the interval when that is shorter (a 1-day interval is due after 12
 * hours), so every status is reachable for every interval.
 */
import type { RotationStatus, SecretType } from "@coffer/protocol";
import { DAY_MS } from "../core/clock.ts";
import { CofferError, invalid } from "../core/errors.ts";

export const MAX_INTERVAL_DAYS = 3650;
export const REMINDER_WINDOW_DAYS = 7;
/** How long a version superseded by a rotation still verifies HMAC signatures and is kept from pruning. */
export const DEFAULT_GRACE_DAYS = 7;
/** The author of versions the rotation job writes. */
export const ROTATION_ACTOR = "system:rotation";
/** The types whose value Coffer generates, and so can rotate by itself. */
export const SELF_ROTATING_TYPES: readonly SecretType[] = ["HMAC", "INTERNAL_API_KEY"];

export interface RotationPlan {
  intervalDays: number;
  rotatedAt: number;
  remindAt: number;
  dueAt: number;
}

export interface RotationView {
  intervalDays: number;
  rotatedAt: string;
  dueAt: string;
  status: RotationStatus;
}

/** The schedule of a value written at `rotatedAt`; undefined when no interval applies. */
export function planOf(intervalDays: number | null | undefined, rotatedAt: number): RotationPlan | undefined {
  if (intervalDays === null || intervalDays === undefined) return undefined;
  return { intervalDays, rotatedAt, remindAt: rotatedAt + remindOffsetMs(intervalDays), dueAt: rotatedAt + intervalDays * DAY_MS };
}

/** When, after a value was written, it becomes due: the one formula (also in SQL, see rotation.repository.ts). */
export function remindOffsetMs(intervalDays: number): number {
  return intervalDays >= 2 * REMINDER_WINDOW_DAYS ? (intervalDays - REMINDER_WINDOW_DAYS) * DAY_MS : (intervalDays * DAY_MS) / 2;
}

export function statusAt(plan: RotationPlan, now: number): RotationStatus {
  if (now >= plan.dueAt) return "overdue";
  return now >= plan.remindAt ? "due" : "ok";
}

export function viewOf(plan: RotationPlan, now: number): RotationView {
  return {
    intervalDays: plan.intervalDays,
    rotatedAt: new Date(plan.rotatedAt).toISOString(),
    dueAt: new Date(plan.dueAt).toISOString(),
    status: statusAt(plan, now),
  };
}

/** A rotation interval as given: whole days from 1 to MAX_INTERVAL_DAYS, or null (none of its own). */
export function checkInterval(days: number | null | undefined): number | null | undefined {
  if (days === null || days === undefined) return days;
  if (!Number.isInteger(days) || days < 1 || days > MAX_INTERVAL_DAYS) {
    throw invalid(`rotationIntervalDays must be a whole number of days from 1 to ${MAX_INTERVAL_DAYS}, or null`);
  }
  return days;
}

/** Only generated types rotate themselves: Coffer cannot invent a new database password. */
export function checkAutoRotate(type: string, autoRotate: boolean | undefined): void {
  if (autoRotate && !SELF_ROTATING_TYPES.includes(type as SecretType)) {
    throw new CofferError("INVALID_SECRET_TYPE", `only ${SELF_ROTATING_TYPES.join(" and ")} secrets rotate themselves; this one is ${type}`);
  }
}

/** Whether a version superseded at `supersededAt` still counts (HMAC verify) at `now`. */
export function withinGrace(supersededAt: number, now: number, graceDays: number): boolean {
  return now < supersededAt + graceDays * DAY_MS;
}
