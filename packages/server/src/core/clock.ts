/** Milliseconds since the epoch; services take one so tests can move time. */
export type Clock = () => number;

export const systemClock: Clock = () => Date.now();

export const DAY_MS = 86_400_000;
