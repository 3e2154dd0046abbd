/**
 * Key/value rows for a secret's data. Values are write-only: their inputs are
 * uncontrolled and masked, so a value lives only in the input's live value
 * (never in a React prop, a `value` attribute or the page's HTML) and in a
 * map read once on submit. Pasting a `.env` block into any row fills rows.
 */
import { keyNameProblem, LIMITS } from "@coffer/protocol";
import { useImperativeHandle, useRef, useState, type ClipboardEvent, type Ref } from "react";

interface Row {
  id: number;
  key: string;
}

export interface RowsHandle {
  /** The pairs as typed, or the first problem with them. */
  read: () => { data: Record<string, string>; filled: number } | { problem: string };
}

let nextId = 1;

export function ValueRows({ handle, initialKeys = [""], fixedKeys = false, label = "Keys and values", onEdit }: {
  handle: Ref<RowsHandle>;
  initialKeys?: string[];
  fixedKeys?: boolean;
  label?: string;
  /** Told of every edit (typing, paste), so a form can drop a stale problem. */
  onEdit?: () => void;
}) {
  const [rows, setRows] = useState<Row[]>(() => initialKeys.map((key) => ({ id: nextId++, key })));
  const [shown, setShown] = useState(false);
  const [keyErrors, setKeyErrors] = useState<Record<number, string>>({});
  const values = useRef(new Map<number, string>());
  // Values a paste set before their input existed: written into the input when it mounts.
  const pending = useRef(new Map<number, string>());

  useImperativeHandle(handle, () => ({
    read: () => {
      const data: Record<string, string> = {};
      const errors: Record<number, string> = {};
      let filled = 0;
      for (const row of rows) {
        const key = row.key.trim();
        const value = values.current.get(row.id) ?? "";
        if (!key && !value) continue;
        const problem = !key ? "name this key" : keyNameProblem(key) ?? (key in data ? `'${key}' is given twice` : undefined);
        if (problem) errors[row.id] = problem;
        data[key] = value;
        if (value) filled++;
      }
      setKeyErrors(errors);
      if (Object.keys(errors).length) return { problem: "Fix the key names marked below." };
      if (Object.keys(data).length > LIMITS.maxKeys) return { problem: `A secret has at most ${LIMITS.maxKeys} keys.` };
      if (new TextEncoder().encode(JSON.stringify(data)).length > LIMITS.payloadBytes) return { problem: `A secret's data is at most ${LIMITS.payloadBytes / 1024} KiB.` };
      return { data, filled };
    },
  }));

  const setKey = (id: number, key: string) => {
    setRows((all) => all.map((row) => (row.id === id ? { ...row, key } : row)));
    setKeyErrors((all) => (id in all ? Object.fromEntries(Object.entries(all).filter(([other]) => Number(other) !== id)) : all));
  };
  const remove = (id: number) => {
    values.current.delete(id);
    setRows((all) => (all.length > 1 ? all.filter((row) => row.id !== id) : [{ id: nextId++, key: "" }]));
  };

  const onPaste = (event: ClipboardEvent<HTMLInputElement>) => {
    const pairs = parseDotenv(event.clipboardData.getData("text"));
    if (fixedKeys || pairs.length === 0) return;
    event.preventDefault();
    setRows((all) => {
      const kept = all.filter((row) => row.key.trim() || values.current.get(row.id));
      const added = pairs.map(([key, value]) => {
        const id = nextId++;
        values.current.set(id, value);
        pending.current.set(id, value);
        return { id, key };
      });
      return [...kept, ...added];
    });
  };

  // A key field shows what it holds in clear: text that may carry a value (`KEY=value`, several lines) never lands in one.
  const onKeyPaste = (id: number) => (event: ClipboardEvent<HTMLInputElement>) => {
    if (!/[=\r\n]/.test(event.clipboardData.getData("text"))) return;
    onPaste(event);
    if (event.isDefaultPrevented()) return;
    event.preventDefault();
    setKeyErrors((all) => ({ ...all, [id]: "A key holds a name only: paste the value into its value field (or paste whole .env lines)" }));
  };

  const valueRef = (id: number) => (input: HTMLInputElement | null) => {
    const value = pending.current.get(id);
    if (input && value !== undefined) {
      input.value = value;
      pending.current.delete(id);
    }
  };

  return (
    <fieldset className="rows" onInput={onEdit} onPaste={onEdit}>
      <legend>{label}</legend>
      {rows.map((row, i) => (
        <div className="row" key={row.id}>
          <div className="row-key">
            <input
              aria-label={`Key ${i + 1}`}
              placeholder="KEY"
              value={row.key}
              readOnly={fixedKeys}
              data-autofocus={i === 0 && !fixedKeys && !row.key ? "" : undefined}
              autoComplete="off"
              spellCheck={false}
              aria-invalid={keyErrors[row.id] ? true : undefined}
              onChange={(e) => setKey(row.id, e.target.value)}
              onPaste={onKeyPaste(row.id)}
            />
            {keyErrors[row.id] && <span className="field-error">{keyErrors[row.id]}</span>}
          </div>
          <input
            ref={valueRef(row.id)}
            className="row-value"
            aria-label={`Value ${i + 1}${row.key ? ` (${row.key})` : ""}`}
            placeholder="value"
            type={shown ? "text" : "password"}
            autoComplete="new-password"
            spellCheck={false}
            data-value-input=""
            data-autofocus={i === 0 && fixedKeys ? "" : undefined}
            onChange={(e) => values.current.set(row.id, e.target.value)}
            onPaste={onPaste}
          />
          {!fixedKeys && (
            <button type="button" className="icon" aria-label={`Remove row ${i + 1}`} onClick={() => remove(row.id)}>
              ×
            </button>
          )}
        </div>
      ))}
      <div className="rows-foot">
        {!fixedKeys && (
          <button type="button" onClick={() => setRows((all) => [...all, { id: nextId++, key: "" }])}>
            + Add row
          </button>
        )}
        <label className="check">
          <input type="checkbox" checked={shown} onChange={(e) => setShown(e.target.checked)} /> Show values while typing
        </label>
      </div>
      {!fixedKeys && <p className="hint">Tip: paste a .env block (KEY=value lines) into any row to fill the rows.</p>}
    </fieldset>
  );
}

/** KEY=value lines (optionally `export`ed, quoted, with # comments); [] when the text is not such a block. */
export function parseDotenv(text: string): [string, string][] {
  const lines = text.split(/\r?\n/).filter((line) => line.trim() && !line.trim().startsWith("#"));
  const pairs: [string, string][] = [];
  for (const line of lines) {
    const match = /^\s*(?:export\s+)?([A-Za-z0-9_.-]+)\s*=\s*(.*?)\s*$/.exec(line);
    if (!match) return [];
    let value = match[2]!;
    const quote = value[0];
    if ((quote === '"' || quote === "'") && value.endsWith(quote) && value.length >= 2) {
      value = value.slice(1, -1);
      if (quote === '"') value = value.replace(/\\n/g, "\n").replace(/\\"/g, '"');
    }
    pairs.push([match[1]!, value]);
  }
  // A single line without a newline is an ordinary paste of one value, not a block.
  return pairs.length > 1 || /\n/.test(text.trim()) ? pairs : [];
}
