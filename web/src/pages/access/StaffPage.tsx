import { Page } from '../../ui/Page.tsx';

export default function StaffPage() {
  return (
    <Page title="Staff">
      <p>This screen is being built.</p>
    </Page>
  );
}
