import type { Rendered } from './types.ts';

/** The rendered channels as the recipient would see them: a mail pane, a phone's notification, an SMS. */
export function Preview({ rendered, name }: { rendered: Rendered; name: string }) {
  const { email, push, sms } = rendered.channels;
  return (
    <div className="tpl-previews">
      {email ? (
        <figure className="tpl-preview tpl-preview-email" aria-label="Email preview">
          <figcaption>Email</figcaption>
          <div className="tpl-mail-head">
            <span className="tpl-muted">Subject</span>{' '}
            <strong data-testid="preview-subject">{email.subject}</strong>
          </div>
          {/* No allow-scripts, no allow-same-origin: the HTML can neither run code nor reach the panel. */}
          <iframe title="Email HTML preview" sandbox="" srcDoc={email.html} className="tpl-mail-frame" />
          <details>
            <summary>Text version</summary>
            <pre className="tpl-mail-text">{email.text}</pre>
          </details>
        </figure>
      ) : null}
      {push ? (
        <figure className="tpl-preview" aria-label="Push preview">
          <figcaption>Push</figcaption>
          <div className="tpl-phone">
            <div className="tpl-push-card" data-testid="preview-push">
              <div className="tpl-push-app">
                <span className="tpl-push-icon" aria-hidden="true">
                  B
                </span>
                <span>boxoffice · now</span>
              </div>
              <strong className="tpl-push-title">{push.title}</strong>
              <p className="tpl-push-body">{push.body}</p>
              {push.url ? <span className="tpl-push-url">{push.url}</span> : null}
            </div>
          </div>
        </figure>
      ) : null}
      {sms ? (
        <figure className="tpl-preview" aria-label="SMS preview">
          <figcaption>SMS</figcaption>
          <div className="tpl-phone tpl-phone-sms">
            <div className="tpl-sms-from">{name}</div>
            <p className="tpl-sms-bubble" data-testid="preview-sms">
              {sms.text}
            </p>
            <p className="tpl-sms-cost" data-testid="sms-segments">
              {sms.segments} {sms.segments === 1 ? 'segment' : 'segments'} · {sms.encoding} · {sms.units}{' '}
              {sms.encoding === 'GSM-7' ? 'septets' : 'UTF-16 units'}
            </p>
          </div>
        </figure>
      ) : null}
    </div>
  );
}
