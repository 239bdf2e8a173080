import { Page } from '../../ui/Page.tsx';

export default function FilesPage() {
  return (
    <Page title="Files">
      <p>This screen is being built.</p>
    </Page>
  );
}
