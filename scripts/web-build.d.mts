export function webBuildDir(root: string): string;
export function ensureWebBuild(root: string, log?: (line: string) => void): Promise<string>;
