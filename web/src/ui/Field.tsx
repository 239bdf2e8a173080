import {
  type InputHTMLAttributes,
  type ReactNode,
  type SelectHTMLAttributes,
  type TextareaHTMLAttributes,
  useId,
} from 'react';

interface Labelled {
  label: string;
  /** Shown under the control and tied to it (aria-describedby). */
  hint?: ReactNode;
  /** An inline validation error, announced and tied to the control (aria-invalid). */
  error?: string | undefined;
}

function describe(id: string, hint: ReactNode, error: string | undefined) {
  const ids = [hint ? `${id}-hint` : '', error ? `${id}-error` : ''].filter(Boolean).join(' ');
  return ids || undefined;
}

function Help({ id, hint, error }: { id: string; hint: ReactNode; error: string | undefined }) {
  return (
    <>
      {hint ? (
        <small id={`${id}-hint`} className="field-hint">
          {hint}
        </small>
      ) : null}
      {error ? (
        <small id={`${id}-error`} className="field-error" role="alert">
          {error}
        </small>
      ) : null}
    </>
  );
}

/** What a control needs to be tied to its label, hint and error. */
interface ControlAria {
  id: string;
  'aria-invalid': true | undefined;
  'aria-describedby': string | undefined;
}

/** The label, hint and error around any control; `control` draws the control itself with `aria`. */
function LabelledControl({
  label,
  hint,
  error,
  control,
}: Labelled & { control: (aria: ControlAria) => ReactNode }) {
  const id = useId();
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      {control({
        id,
        'aria-invalid': error ? true : undefined,
        'aria-describedby': describe(id, hint, error),
      })}
      <Help id={id} hint={hint} error={error} />
    </div>
  );
}

export function TextField({
  label,
  hint,
  error,
  ...input
}: Labelled & InputHTMLAttributes<HTMLInputElement>) {
  return (
    <LabelledControl
      label={label}
      hint={hint}
      error={error}
      control={(aria) => <input {...aria} {...input} />}
    />
  );
}

export function TextArea({
  label,
  hint,
  error,
  ...input
}: Labelled & TextareaHTMLAttributes<HTMLTextAreaElement>) {
  return (
    <LabelledControl
      label={label}
      hint={hint}
      error={error}
      control={(aria) => <textarea {...aria} {...input} />}
    />
  );
}

export function SelectField({
  label,
  hint,
  error,
  options,
  ...select
}: Labelled &
  SelectHTMLAttributes<HTMLSelectElement> & {
    options: readonly (string | { value: string; label: string })[];
  }) {
  return (
    <LabelledControl
      label={label}
      hint={hint}
      error={error}
      control={(aria) => (
        <select {...aria} {...select}>
          {options.map((option) => {
            const { value, label: text } =
              typeof option === 'string' ? { value: option, label: option } : option;
            return (
              <option key={value} value={value}>
                {text}
              </option>
            );
          })}
        </select>
      )}
    />
  );
}
