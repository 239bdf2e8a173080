import { Page } from '../../ui/Page.tsx';

export default function CampaignsPage() {
  return (
    <Page title="Campaigns">
      <p>This screen is being built.</p>
    </Page>
  );
}
