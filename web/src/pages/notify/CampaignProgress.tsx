import { formatInteger, formatPercent } from '../../app/format.ts';
import type { Campaign } from './types.ts';

/** How far a campaign got: deliveries no longer pending over all its deliveries (or the segment's size). */
export function progressOf(campaign: Campaign): { done: number; total: number; finished: boolean } {
  const counts = campaign.progress ?? {};
  const made = Object.values(counts).reduce((sum, n) => sum + n, 0);
  const total = Math.max(made, campaign.fanout.recipients, campaign.recipients_estimate ?? 0);
  const done = made - (counts.pending ?? 0);
  const finished =
    campaign.status === 'sent' && campaign.fanout.done && (campaign.progress ? !counts.pending : true);
  return { done, total, finished };
}

export function CampaignProgress({ campaign, compact = false }: { campaign: Campaign; compact?: boolean }) {
  if (campaign.status === 'draft' || campaign.status === 'scheduled')
    return <span className="muted">{campaign.status === 'draft' ? 'not sent' : 'waiting'}</span>;
  if (compact && !campaign.progress)
    return <span>{campaign.status === 'sent' ? 'fan-out done' : campaign.status}</span>;
  const { done, total, finished } = progressOf(campaign);
  const label = `${campaign.name}: ${formatInteger(done)} of ${formatInteger(total)} processed`;
  return (
    <div className="campaign-progress">
      <progress max={Math.max(total, 1)} value={done} aria-label={label} />
      <span className="campaign-progress-text" data-testid="progress-text">
        {finished
          ? `Done: ${formatInteger(done)} of ${formatInteger(total)}`
          : `${formatInteger(done)} of ${formatInteger(total)} (${formatPercent(total ? done / total : 0)})`}
      </span>
    </div>
  );
}
