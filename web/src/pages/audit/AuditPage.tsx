import { Page } from '../../ui/Page.tsx';

export default function AuditPage() {
  return (
    <Page title="Audit log">
      <p>This screen is being built.</p>
    </Page>
  );
}
