import { Page } from '../../ui/Page.tsx';

export default function CampaignPage() {
  return (
    <Page title="Campaign">
      <p>This screen is being built.</p>
    </Page>
  );
}
