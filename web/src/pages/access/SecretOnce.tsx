import { useId, useRef, useState } from 'react';

/**
 * A secret the server shows once (a service account's client secret, a generated password): a read-only
 * field, a copy button (navigator.clipboard), and, where the clipboard is refused, the text selected
 * with a visible line saying to copy it by hand.
 */
export function SecretOnce({
  label,
  value,
  subject,
  onDismiss,
}: {
  label: string;
  value: string;
  subject: string;
  onDismiss: () => void;
}) {
  const id = useId();
  const input = useRef<HTMLInputElement>(null);
  const [copied, setCopied] = useState<'yes' | 'manual' | null>(null);

  async function copy() {
    try {
      if (!navigator.clipboard) throw new Error('no clipboard');
      await navigator.clipboard.writeText(value);
      setCopied('yes');
    } catch {
      input.current?.focus();
      input.current?.select();
      setCopied('manual');
    }
  }

  return (
    <section className="secret-once" aria-labelledby={`${id}-title`}>
      <h3 id={`${id}-title`}>{subject}</h3>
      <p>
        <strong>Shown this once.</strong> Only a hash is stored: copy it now; it cannot be shown again.
      </p>
      <div className="field">
        <label htmlFor={id}>{label}</label>
        <div className="secret-row">
          <input
            id={id}
            ref={input}
            readOnly
            value={value}
            spellCheck={false}
            autoComplete="off"
            onFocus={(event) => event.currentTarget.select()}
          />
          <button type="button" className="primary" onClick={() => void copy()}>
            Copy
          </button>
          <button type="button" onClick={onDismiss}>
            Done
          </button>
        </div>
      </div>
      <output aria-live="polite">
        {copied === 'yes' ? 'Copied to the clipboard.' : null}
        {copied === 'manual'
          ? 'The clipboard is not available here: the text is selected, press Ctrl+C (⌘C) to copy it.'
          : null}
      </output>
    </section>
  );
}
