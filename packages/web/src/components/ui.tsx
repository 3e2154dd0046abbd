/** The few building blocks every page uses. */
import { useEffect, useId, useRef, useState, type ReactNode } from "react";
import { describeError } from "../api.ts";

export function ErrorNote({ error }: { error: unknown }) {
  if (error === undefined || error === null) return null;
  return (
    <p className="error" role="alert">
      {describeError(error)}
    </p>
  );
}

export function Empty({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <div className="empty">
      <strong>{title}</strong>
      {children && <p>{children}</p>}
    </div>
  );
}

export function Loading() {
  return <p className="muted" aria-live="polite">Loading…</p>;
}

export function Field({ label, hint, error, children }: { label: string; hint?: ReactNode; error?: string | undefined; children: (id: string, describedBy: string | undefined) => ReactNode }) {
  const id = useId();
  const note = hint || error ? `${id}-note` : undefined;
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      {children(id, note)}
      {error ? (
        <span id={note} className="field-error">
          {error}
        </span>
      ) : (
        hint && (
          <span id={note} className="hint">
            {hint}
          </span>
        )
      )}
    </div>
  );
}

/**
 * A modal dialog on the native <dialog>: focus moves into it and returns to
 * the opener, Escape closes it, Tab stays inside (the browser's modal does
 * both).
 */
export function Dialog({ title, onClose, children, wide }: { title: string; onClose: () => void; children: ReactNode; wide?: boolean }) {
  const ref = useRef<HTMLDialogElement>(null);
  const titleId = useId();
  useEffect(() => {
    const dialog = ref.current!;
    const opener = document.activeElement as HTMLElement | null;
    dialog.showModal();
    // React handles autoFocus in script before the dialog opens; the dialog's own first field is marked instead.
    dialog.querySelector<HTMLElement>("[data-autofocus]")?.focus();
    return () => {
      dialog.close();
      opener?.focus();
    };
  }, []);
  return (
    <dialog
      ref={ref}
      className={wide ? "wide" : undefined}
      aria-labelledby={titleId}
      onCancel={(event) => {
        event.preventDefault();
        onClose();
      }}
    >
      <header className="dialog-head">
        <h2 id={titleId}>{title}</h2>
        <button type="button" className="icon" aria-label="Close" onClick={onClose}>
          ×
        </button>
      </header>
      {children}
    </dialog>
  );
}

/** Asks before something that cannot be taken back (or is awkward to). */
export function Confirm({ title, children, confirm, danger, onConfirm, onClose, pending, error }: {
  title: string;
  children: ReactNode;
  confirm: string;
  danger?: boolean;
  onConfirm: () => void;
  onClose: () => void;
  pending?: boolean;
  error?: unknown;
}) {
  return (
    <Dialog title={title} onClose={onClose}>
      <div className="dialog-body">{children}</div>
      <ErrorNote error={error} />
      <footer className="dialog-foot">
        <button type="button" onClick={onClose}>
          Cancel
        </button>
        <button type="button" className={danger ? "danger" : "primary"} disabled={pending} onClick={onConfirm}>
          {confirm}
        </button>
      </footer>
    </Dialog>
  );
}

/**
 * Copies `text` to the clipboard. Where the browser refuses (a page served
 * over plain HTTP from another machine is no secure context), it selects the
 * text of `target` instead, so Ctrl+C or Cmd+C copies it.
 */
export function CopyButton({ text, target, label = "Copy", ariaLabel, className }: { text: string; target: () => HTMLElement | null; label?: string; ariaLabel?: string; className?: string }) {
  const [state, setState] = useState<"idle" | "copied" | "selected">("idle");
  // "Copied" says so for a moment, then the button reads as before.
  useEffect(() => {
    if (state === "idle") return;
    const timer = setTimeout(() => setState("idle"), 2500);
    return () => clearTimeout(timer);
  }, [state]);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(text);
      setState("copied");
    } catch {
      const element = target();
      if (element) getSelection()?.selectAllChildren(element);
      setState("selected");
    }
  };
  return (
    <button type="button" className={className} aria-label={ariaLabel} onClick={() => void copy()}>
      {state === "copied" ? "Copied" : state === "selected" ? "Selected: press Ctrl+C" : label}
    </button>
  );
}

/** A value shown once (a new token): copy it now, it is never shown again. */
export function ShowOnce({ label, value }: { label: string; value: string }) {
  const shown = useRef<HTMLElement>(null);
  return (
    <div className="show-once">
      <p>
        <strong>{label}</strong> Copy it now: it is shown only this once.
      </p>
      <div className="copy-row">
        <code data-testid="new-token" ref={shown}>
          {value}
        </code>
        <CopyButton text={value} target={() => shown.current} className="primary" />
      </div>
    </div>
  );
}

export function Pager({ page, hasNext, onPrevious, onNext }: { page: number; hasNext: boolean; onPrevious: () => void; onNext: () => void }) {
  return (
    <nav className="pager" aria-label="Pages">
      <button type="button" disabled={page === 0} onClick={onPrevious}>
        ← Previous
      </button>
      <span className="muted">Page {page + 1}</span>
      <button type="button" disabled={!hasNext} onClick={onNext}>
        Next →
      </button>
    </nav>
  );
}

export function time(iso: string | null | undefined): string {
  if (!iso) return "—";
  return new Date(iso).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

export function age(days: number): string {
  return days === 0 ? "today" : days === 1 ? "1 day" : `${days} days`;
}

/** A button for something hard to undo: it asks first, in a dialog. */
export function ConfirmButton({ label, ariaLabel, title, confirm, onConfirm, children }: { label: string; ariaLabel?: string; title: string; confirm: string; onConfirm: () => void; children: ReactNode }) {
  const [open, setOpen] = useState(false);
  return (
    <>
      <button type="button" className="quiet" aria-label={ariaLabel} onClick={() => setOpen(true)}>
        {label}
      </button>
      {open && (
        <Confirm
          title={title}
          confirm={confirm}
          danger
          onClose={() => setOpen(false)}
          onConfirm={() => {
            setOpen(false);
            onConfirm();
          }}
        >
          {children}
        </Confirm>
      )}
    </>
  );
}
