/** Runs async steps one at a time, in the order they were asked for; a failed step does not stop the next. */
export class Serial {
  #tail: Promise<unknown> = Promise.resolve();

  run<T>(fn: () => Promise<T>): Promise<T> {
    const step = this.#tail.then(fn);
    this.#tail = step.catch(() => {});
    return step;
  }
}
