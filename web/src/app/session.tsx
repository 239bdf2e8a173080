import { createContext, type ReactNode, useCallback, useContext, useEffect, useMemo, useState } from 'react';
import { api, onUnauthenticated, setCsrfToken } from './api.ts';

/** The signed-in staff member, as `GET /api/admin/me` describes them. */
export interface Staff {
  id: number;
  email: string;
  role: 'admin' | 'manager' | 'analyst';
  permissions: string[];
  csrf_token: string;
}

interface SessionState {
  /** undefined while the first `me` is in flight, null when nobody is signed in. */
  staff: Staff | null | undefined;
  signIn(email: string, password: string): Promise<void>;
  signOut(): Promise<void>;
  /** Whether the role may do this; the server refuses regardless (this only hides what would fail). */
  can(permission: string): boolean;
}

const SessionContext = createContext<SessionState | undefined>(undefined);

export function SessionProvider({ children }: { children: ReactNode }) {
  const [staff, setStaff] = useState<Staff | null | undefined>(undefined);

  const adopt = useCallback((next: Staff | null) => {
    setCsrfToken(next?.csrf_token);
    setStaff(next);
  }, []);

  useEffect(() => {
    onUnauthenticated(() => adopt(null));
    // 401 (no session) or 403 (not a staff session): the sign-in screen.
    api<Staff>('/api/admin/me').then(adopt, () => adopt(null));
  }, [adopt]);

  const value = useMemo<SessionState>(
    () => ({
      staff,
      async signIn(email, password) {
        await api('/api/admin/session', { method: 'POST', body: { email, password } });
        adopt(await api<Staff>('/api/admin/me'));
      },
      async signOut() {
        try {
          await api('/api/admin/session', { method: 'DELETE' });
        } finally {
          adopt(null);
        }
      },
      can: (permission) => staff?.permissions.includes(permission) ?? false,
    }),
    [staff, adopt],
  );
  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}

export function useSession(): SessionState {
  const session = useContext(SessionContext);
  if (!session) throw new Error('useSession outside SessionProvider');
  return session;
}
