import type { Sql } from '../../platform/db/client.ts';
import { TRANSACTIONAL } from '../queue.ts';
import { compiledVersion, loadTemplateVersion, type TemplateVersion } from '../template-cache.ts';
import { htmlToText, type RenderedParts } from '../templates/index.ts';
import { type TrackedDelivery, trackEmail } from '../tracking.ts';
import type { ClaimedDelivery } from './claims.ts';
import type { OutgoingMessage } from './message.ts';
import { SendFailure } from './outcome.ts';

export interface RenderContext {
  db: Sql;
  trackingKey: Buffer;
  publicUrl: string;
}

const versions = new Map<string, Promise<TemplateVersion | undefined>>();

/** Versions are immutable, so each is read once per process (bounded). */
function versionOf(db: Sql, id: string, version: number | null): Promise<TemplateVersion | undefined> {
  if (version === null) return loadTemplateVersion(db, id);
  const key = `${id}\u0000${version}`;
  let found = versions.get(key);
  if (!found) {
    found = loadTemplateVersion(db, id, version);
    found.catch(() => versions.delete(key));
    if (versions.size > 1000) versions.delete(versions.keys().next().value!);
    versions.set(key, found);
  }
  return found;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** The parts of a delivery: its template version rendered with its variables, or the ad-hoc content. */
async function partsOf(context: RenderContext, d: ClaimedDelivery): Promise<RenderedParts> {
  if (d.content) {
    const body = d.content.body;
    const subject = d.content.subject ?? '';
    if (d.channel === 'email')
      return { subject, text: body, html: `<p>${escapeHtml(body).replace(/\n/g, '<br>')}</p>` };
    if (d.channel === 'push') return { title: subject, body };
    return { text: body };
  }
  const version = await versionOf(context.db, d.templateId!, d.templateVersion);
  if (!version)
    throw new SendFailure(
      'permanent',
      `template ${d.templateId} v${d.templateVersion ?? 'current'} does not exist`,
    );
  const compiled = compiledVersion(version, d.channel);
  if (!compiled) throw new SendFailure('permanent', `template ${d.templateId} has no ${d.channel} parts`);
  try {
    return compiled.render({ ...d.notificationVariables, ...(d.variables ?? {}) });
  } catch (error) {
    throw new SendFailure('permanent', `template ${d.templateId}: ${(error as Error).message}`);
  }
}

/**
 * The message a provider gets for a delivery. Email carries the open pixel, click redirects and, outside
 * transactional mail, the RFC 8058 one-click unsubscribe headers; push carries the subscription's keys.
 */
export async function renderDelivery(
  context: RenderContext,
  d: ClaimedDelivery,
  subscription?: { p256dh: string; auth: string },
): Promise<OutgoingMessage> {
  const parts = await partsOf(context, d);
  const reference = `d${d.id}-${d.createdOn.replaceAll('-', '')}`;
  const base = { deliveryId: d.id, reference, channel: d.channel, to: d.recipient };
  if (d.channel === 'email') {
    const tracked: TrackedDelivery = {
      id: d.id,
      createdOn: d.createdOn,
      channel: d.channel,
      category: d.category,
      recipient: d.recipient,
    };
    const tracking = trackEmail(context.trackingKey, context.publicUrl, tracked, parts.html ?? '');
    const headers: Record<string, string> = {};
    if (d.category !== TRANSACTIONAL && tracking.listUnsubscribe) {
      headers['List-Unsubscribe'] = tracking.listUnsubscribe;
      headers['List-Unsubscribe-Post'] = tracking.listUnsubscribePost;
    }
    return {
      ...base,
      email: {
        subject: parts.subject ?? '',
        html: tracking.html,
        text: parts.text ?? htmlToText(parts.html ?? ''),
        headers,
      },
    };
  }
  if (d.channel === 'push') {
    if (!subscription) throw new SendFailure('gone', 'the push subscription was removed');
    return {
      ...base,
      push: {
        title: parts.title ?? '',
        body: parts.body ?? '',
        ...(parts.url ? { url: parts.url } : {}),
        subscription: { endpoint: d.recipient, keys: subscription },
      },
    };
  }
  return { ...base, sms: { text: parts.text ?? '' } };
}
