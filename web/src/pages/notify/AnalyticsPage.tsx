import { Page } from '../../ui/Page.tsx';

export default function AnalyticsPage() {
  return (
    <Page title="Notify analytics">
      <p>This screen is being built.</p>
    </Page>
  );
}
