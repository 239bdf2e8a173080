import nodemailer, { type Transporter } from 'nodemailer';
import { type ChannelProvider, type OutgoingMessage, publicName } from '../message.ts';
import { SendFailure } from '../outcome.ts';

interface SmtpError extends Error {
  code?: string;
  responseCode?: number;
  command?: string;
}

/** SMTP reply codes at RCPT that mean the mailbox does not exist (RFC 5321 §4.2.3, RFC 3463). */
const HARD_BOUNCE = new Set([550, 551, 553]);

/**
 * Which kind of failure an SMTP error is: 4xx replies and connection trouble are transient; a 5xx refusal
 * of the recipient is a bounce; any other 5xx is permanent for this message.
 */
export function classifySmtpError(error: SmtpError, provider: string): SendFailure {
  const code = error.responseCode;
  const message = `${provider}: ${error.message}`;
  if (code === undefined || code < 500) return new SendFailure('transient', message, undefined, provider);
  if (error.command === 'RCPT TO' && HARD_BOUNCE.has(code))
    return new SendFailure('bounce', message, undefined, provider);
  return new SendFailure('permanent', message, undefined, provider);
}

/** Email over SMTP with pooled connections (nodemailer): one provider per SMTP_URL entry. */
export class SmtpProvider implements ChannelProvider {
  readonly channel = 'email' as const;
  readonly name: string;
  private readonly transport: Transporter;

  constructor(
    url: string,
    private readonly from: string,
    options: { maxConnections: number; timeoutMs: number },
  ) {
    this.name = publicName(url);
    const parsed = new URL(url);
    this.transport = nodemailer.createTransport({
      pool: true,
      maxConnections: options.maxConnections,
      maxMessages: Number.POSITIVE_INFINITY,
      host: parsed.hostname,
      port: Number(parsed.port) || (parsed.protocol === 'smtps:' ? 465 : 587),
      secure: parsed.protocol === 'smtps:',
      auth: parsed.username
        ? { user: decodeURIComponent(parsed.username), pass: decodeURIComponent(parsed.password) }
        : undefined,
      connectionTimeout: options.timeoutMs,
      greetingTimeout: options.timeoutMs,
      socketTimeout: options.timeoutMs,
    });
  }

  async send(message: OutgoingMessage): Promise<{ providerMessageId: string | null }> {
    const email = message.email;
    if (!email) throw new SendFailure('permanent', 'not an email', undefined, this.name);
    try {
      const info = await this.transport.sendMail({
        from: this.from,
        to: message.to,
        subject: email.subject,
        html: email.html,
        text: email.text,
        messageId: `<${message.reference}@boxoffice>`,
        headers: email.headers,
      });
      return { providerMessageId: info.messageId ?? null };
    } catch (error) {
      throw classifySmtpError(error as SmtpError, this.name);
    }
  }

  async close(): Promise<void> {
    this.transport.close();
  }
}
