import { Page } from '../../ui/Page.tsx';

export default function DeliveriesPage() {
  return (
    <Page title="Delivery log">
      <p>This screen is being built.</p>
    </Page>
  );
}
