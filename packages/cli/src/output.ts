/** Output for people (aligned tables) and for programs (--json). */

export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + "\n");
}

/** Columns padded to their widest cell, two spaces apart; `empty` when there are no rows. */
export function printTable(headers: string[], rows: string[][], empty = "(none)"): void {
  if (rows.length === 0) {
    process.stdout.write(empty + "\n");
    return;
  }
  const widths = headers.map((header, i) => Math.max(header.length, ...rows.map((row) => (row[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i]!)))
      .join("  ")
      .trimEnd();
  process.stdout.write([line(headers), ...rows.map(line)].join("\n") + "\n");
}

/** "2025-11-23 14:05" (UTC), or "-" for none. */
export function when(iso: string | null | undefined): string {
  if (!iso) return "-";
  return iso.replace("T", " ").slice(0, 16);
}

export function list(values: readonly string[] | null | undefined, none = "-"): string {
  return values && values.length ? values.join(",") : none;
}
