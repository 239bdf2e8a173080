import { Page } from '../../ui/Page.tsx';

export default function ServiceAccountsPage() {
  return (
    <Page title="Service accounts">
      <p>This screen is being built.</p>
    </Page>
  );
}
