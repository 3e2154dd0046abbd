/** "Use it": a secret's references and snippets, each with a copy button. Names and keys only, never a value. */
import { useRef } from "react";
import { references, snippets, type UsageTarget } from "../usage.ts";
import { CopyButton } from "./ui.tsx";

export function SecretUsage({ target }: { target: UsageTarget }) {
  return (
    <section className="usage" aria-labelledby="usage-title">
      <h2 id="usage-title">Use it</h2>
      <p className="hint">
        In templates (<code>coffer inject</code>) and relayed requests, a reference stands for the value:
      </p>
      <ul className="references">
        {references(target).map((reference) => (
          <Copyable key={reference} text={reference} ariaLabel={`Copy ${reference}`} />
        ))}
      </ul>
      <div className="snippets">
        {snippets(target).map((snippet) => (
          <Snippet key={snippet.id} code={snippet.code} title={snippet.title} />
        ))}
      </div>
    </section>
  );
}

function Copyable({ text, ariaLabel }: { text: string; ariaLabel: string }) {
  const ref = useRef<HTMLElement>(null);
  return (
    <li className="copy-row">
      <code ref={ref}>{text}</code>
      <CopyButton text={text} target={() => ref.current} ariaLabel={ariaLabel} />
    </li>
  );
}

function Snippet({ code, title }: { code: string; title: string }) {
  const ref = useRef<HTMLElement>(null);
  return (
    <figure className="snippet">
      <figcaption>
        {title}
        <CopyButton text={code} target={() => ref.current} ariaLabel={`Copy the ${title} snippet`} className="quiet" />
      </figcaption>
      <pre>
        <code ref={ref}>{code}</code>
      </pre>
    </figure>
  );
}
