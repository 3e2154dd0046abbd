/** "+ Add Secret": name, type, label, key/value rows, rotation interval; checked as the server checks before it is sent. */
import { LIMITS, SECRET_TYPES, secretNameProblem, type SecretScope } from "@coffer/protocol";
import { useRef, useState, type FormEvent } from "react";
import { useAction, useFeatures, type Summary } from "../api.ts";
import { Dialog, ErrorNote, Field } from "../components/ui.tsx";
import { ValueRows, type RowsHandle } from "../components/ValueRows.tsx";
import { useSession } from "../session.tsx";

const TYPE_HINTS: Record<string, string> = {
  USER_DEFINED: "Values you type.",
  HMAC: "Leave the values empty to generate a 256-bit key.",
  INTERNAL_API_KEY: "Leave the values empty to generate a cfk_ API key.",
};

function rotationRule(days: number | undefined): string | undefined {
  return days !== undefined && !(Number.isInteger(days) && days >= 1 && days <= 3650) ? "a whole number of days from 1 to 3650" : undefined;
}

/** `initialName`: the folder the list shows, so a secret added there lands in it unless the name is changed. */
export function SecretForm({ scope, initialName = "", onClose, onSaved }: { scope: SecretScope; initialName?: string; onClose: () => void; onSaved: (secret: Summary) => void }) {
  const { client } = useSession();
  const features = useFeatures();
  const [name, setName] = useState(initialName);
  const [type, setType] = useState<string>("USER_DEFINED");
  const [label, setLabel] = useState("");
  const [rotation, setRotation] = useState("");
  // Field rules are checked live once a save was tried; the rows' problem waits for the next save.
  const [tried, setTried] = useState(false);
  const [rowsProblem, setRowsProblem] = useState<string>();
  const rows = useRef<RowsHandle>(null);
  const save = useAction();
  const days = rotation.trim() === "" ? undefined : Number(rotation);
  const nameProblem = tried ? secretNameProblem(name.trim()) : undefined;
  const rotationProblem = tried ? rotationRule(days) : undefined;

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setTried(true);
    const read = rows.current!.read();
    const problem = "problem" in read ? read.problem : read.filled === 0 && type === "USER_DEFINED" ? "Give at least one key and its value." : undefined;
    setRowsProblem(problem);
    if (secretNameProblem(name.trim()) || rotationRule(days) || problem || "problem" in read) return;
    const generated = type !== "USER_DEFINED" && read.filled === 0;
    const saved = await save.run(() =>
      client.call<Summary>("createSecret", {}, {
        body: {
          name: name.trim(),
          scope,
          type,
          ...(label.trim() ? { label: label.trim() } : {}),
          ...(generated ? {} : { data: read.data }),
          ...(days !== undefined ? { rotationIntervalDays: days } : {}),
        },
      }),
    );
    if (saved) onSaved(saved);
  };

  return (
    <Dialog title={scope === "personal" ? "Add a personal secret" : "Add a shared secret"} onClose={onClose} wide>
      <form onSubmit={submit} noValidate className="dialog-body">
        <Field label="Name" error={nameProblem} hint="Letters, digits, _ . - ; use / for folders, e.g. payments/stripe">
          {(id, note) => (
            <input id={id} aria-describedby={note} aria-invalid={nameProblem ? true : undefined} data-autofocus required maxLength={LIMITS.nameLength} spellCheck={false} autoComplete="off" value={name} onChange={(e) => setName(e.target.value)} />
          )}
        </Field>
        <div className="two">
          <Field label="Type" hint={TYPE_HINTS[type]}>
            {(id, note) => (
              <select id={id} aria-describedby={note} value={type} onChange={(e) => setType(e.target.value)}>
                {SECRET_TYPES.map((t) => (
                  <option key={t}>{t}</option>
                ))}
              </select>
            )}
          </Field>
          <Field label="Label (optional)">{(id) => <input id={id} maxLength={LIMITS.labelLength} value={label} onChange={(e) => setLabel(e.target.value)} />}</Field>
        </div>
        <ValueRows handle={rows} onEdit={() => setRowsProblem(undefined)} />
        {features?.rotation && (
          <Field label="Rotate every (days, optional)" error={rotationProblem} hint="Coffer reminds you when the value is due for rotation.">
            {(id, note) => <input id={id} aria-describedby={note} inputMode="numeric" value={rotation} onChange={(e) => setRotation(e.target.value)} />}
          </Field>
        )}
        <ErrorNote error={rowsProblem} />
        <ErrorNote error={save.error} />
        <p className="hint">Values are write-only: after you save, Coffer never shows them here again.</p>
        <footer className="dialog-foot">
          <button type="button" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" className="primary" disabled={save.pending}>
            {save.pending ? "Saving…" : "Save secret"}
          </button>
        </footer>
      </form>
    </Dialog>
  );
}
