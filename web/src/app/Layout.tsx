import { type ReactNode, useEffect, useState } from 'react';
import { NavLink, Outlet, useLocation } from 'react-router';
import { SECTIONS } from './panel-route.ts';
import { PANEL_ROUTES } from './routes.ts';
import { useSession } from './session.tsx';
import { ThemeToggle } from './theme.tsx';

/** The frame of every signed-in screen: navigation by role, who is signed in, theme, sign-out. */
export function Layout(): ReactNode {
  const { staff, can, signOut } = useSession();
  const [menuOpen, setMenuOpen] = useState(false);
  const location = useLocation();
  // A phone's menu closes once a screen is chosen.
  // biome-ignore lint/correctness/useExhaustiveDependencies: runs on navigation
  useEffect(() => setMenuOpen(false), [location.pathname]);

  const visible = PANEL_ROUTES.filter((route) => route.nav && can(route.permission));
  return (
    <div className="shell">
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <button
          type="button"
          className="menu-button"
          aria-expanded={menuOpen}
          aria-controls="navigation"
          onClick={() => setMenuOpen((open) => !open)}
        >
          Menu
        </button>
        <span className="brand">boxoffice admin</span>
        <span className="whoami">
          {staff?.email} <span className="role">({staff?.role})</span>
        </span>
        <ThemeToggle />
        <button type="button" onClick={() => void signOut()}>
          Sign out
        </button>
      </header>
      <nav id="navigation" className={menuOpen ? 'sidebar open' : 'sidebar'} aria-label="Main">
        {SECTIONS.map((section) => {
          const routes = visible.filter((route) => route.nav?.section === section);
          if (routes.length === 0) return null;
          return (
            <div key={section} className="nav-section">
              <h2>{section}</h2>
              <ul>
                {routes.map((route) => (
                  <li key={route.path}>
                    <NavLink to={`/${route.path}`} end={route.path === ''}>
                      {route.nav?.label}
                    </NavLink>
                  </li>
                ))}
              </ul>
            </div>
          );
        })}
      </nav>
      <main id="main" tabIndex={-1}>
        <Outlet />
      </main>
    </div>
  );
}
