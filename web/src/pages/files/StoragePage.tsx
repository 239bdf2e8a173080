import { Page } from '../../ui/Page.tsx';

export default function StoragePage() {
  return (
    <Page title="Storage elements">
      <p>This screen is being built.</p>
    </Page>
  );
}
