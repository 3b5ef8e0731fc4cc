/**
 * The store owner's dashboard. Staff sign in with email and password
 * (Supabase Auth); every screen reads the `admin` Edge Function with the
 * staff member's access token, refreshing its numbers every few seconds.
 * Anyone else (a shopper's account) sees a refusal and no data.
 */
import { createClient, type Session } from '@supabase/supabase-js';
import { type FormEvent, useEffect, useMemo, useState } from 'react';
import { type AdminApi, ApiError, createAdminApi } from './api.ts';
import type { AdminEnv } from './env.ts';
import { describeError } from './format.ts';
import { useHashRoute } from './hooks.ts';
import { AttentionPage } from './pages/AttentionPage.tsx';
import { DisputesPage } from './pages/DisputesPage.tsx';
import { HousekeepingPage } from './pages/HousekeepingPage.tsx';
import { OfflinePaymentsPage } from './pages/OfflinePaymentsPage.tsx';
import { OrderPage } from './pages/OrderPage.tsx';
import { OrdersPage } from './pages/OrdersPage.tsx';
import { OverviewPage } from './pages/OverviewPage.tsx';
import { StockPage } from './pages/StockPage.tsx';
import { type AdminKey, t } from './i18n/index.ts';

const NAV: [string, AdminKey][] = [
  ['', 'nav_overview'],
  ['pedidos', 'nav_orders'],
  ['atencion', 'nav_attention'],
  ['disputas', 'nav_disputes'],
  ['pagos-pendientes', 'nav_offline'],
  ['stock', 'nav_stock'],
  ['mantenimiento', 'nav_housekeeping'],
];

type StaffState = { kind: 'checking' } | { kind: 'staff'; email: string | null } | { kind: 'refused' } | { kind: 'error'; message: string };

export function App({ env }: { env: AdminEnv }) {
  const supabase = useMemo(
    () =>
      createClient(env.supabaseUrl, env.supabaseAnonKey, {
        auth: { persistSession: true, autoRefreshToken: true, detectSessionInUrl: false, storageKey: 'store-admin-auth' },
      }),
    [env],
  );
  const api = useMemo(() => createAdminApi(supabase, env.supabaseUrl), [supabase, env]);
  const [session, setSession] = useState<Session | null | undefined>(undefined);
  const [staff, setStaff] = useState<StaffState>({ kind: 'checking' });

  useEffect(() => {
    void supabase.auth.getSession().then(({ data }) => setSession(data.session));
    const { data } = supabase.auth.onAuthStateChange((_event, s) => setSession(s));
    return () => data.subscription.unsubscribe();
  }, [supabase]);

  const userId = session?.user.id;
  useEffect(() => {
    if (!userId) return;
    setStaff({ kind: 'checking' });
    api.me().then(
      (me) => setStaff({ kind: 'staff', email: me.email }),
      (err: unknown) => setStaff(err instanceof ApiError && err.status === 403 ? { kind: 'refused' } : { kind: 'error', message: describeError(err) }),
    );
  }, [api, userId]);

  const signOut = () => void supabase.auth.signOut();

  if (session === undefined) return <main className='page'>{t('loading')}</main>;
  if (!session) return <SignIn onSignIn={(email, password) => supabase.auth.signInWithPassword({ email, password })} />;
  if (staff.kind === 'checking') return <main className='page'>{t('checkingAccess')}</main>;
  if (staff.kind === 'error') {
    return (
      <main className='page'>
        <p className='alert bad' role='alert'>{staff.message}</p>
        <button type='button' onClick={signOut}>{t('signOut')}</button>
      </main>
    );
  }
  return (
    <Shell email={staff.kind === 'staff' ? staff.email : (session.user.email ?? null)} onSignOut={signOut} nav={staff.kind === 'staff'}>
      {staff.kind === 'refused' ? <Refused /> : <Routes api={api} />}
    </Shell>
  );
}

function Refused() {
  return (
    <section className='card refused' data-testid='refused' role='alert'>
      <h1>{t('refusedTitle')}</h1>
      <p>
        {t('refusedBody')} <code>npm run staff:add</code>.
      </p>
    </section>
  );
}

function Routes({ api }: { api: AdminApi }) {
  const route = useHashRoute();
  const [page, arg] = route;
  switch (page ?? '') {
    case '':
      return <OverviewPage api={api} />;
    case 'pedidos':
      return arg ? <OrderPage api={api} orderRef={arg} /> : <OrdersPage api={api} />;
    case 'atencion':
      return <AttentionPage api={api} />;
    case 'disputas':
      return <DisputesPage api={api} />;
    case 'pagos-pendientes':
      return <OfflinePaymentsPage api={api} />;
    case 'stock':
      return <StockPage api={api} />;
    case 'mantenimiento':
      return <HousekeepingPage api={api} />;
    default:
      return <p className='alert'>{t('noSuchSection')}</p>;
  }
}

function Shell({ email, onSignOut, nav, children }: { email: string | null; onSignOut: () => void; nav: boolean; children: React.ReactNode }) {
  const [page] = useHashRoute();
  return (
    <div className='app'>
      <header className='topbar'>
        <span className='brand'>{t('brand')}</span>
        <nav className='nav' aria-label={t('sections')}>
          {nav && NAV.map(([path, label]) => (
            <a key={path} href={`#/${path}`} className={(page ?? '') === path ? 'active' : ''}>
              {t(label)}
            </a>
          ))}
        </nav>
        <span className='who'>
          <span className='small' data-testid='who'>{email}</span>
          <button type='button' className='link' onClick={onSignOut}>{t('signOut')}</button>
        </span>
      </header>
      <main className='page'>{children}</main>
    </div>
  );
}

function SignIn({ onSignIn }: { onSignIn: (email: string, password: string) => Promise<{ error: unknown }> }) {
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    const { error: err } = await onSignIn(email, password);
    setBusy(false);
    if (err) setError(t('badCredentials'));
  };
  return (
    <main className='page narrow'>
      <form className='card' onSubmit={(e) => void submit(e)} aria-label={t('signIn')}>
        <h1>{t('brand')}</h1>
        <p className='muted'>{t('signInHint')}</p>
        <label>
          {t('email')}
          <input type='email' autoComplete='username' required value={email} onChange={(e) => setEmail(e.target.value)} />
        </label>
        <label>
          {t('password')}
          <input type='password' autoComplete='current-password' required value={password} onChange={(e) => setPassword(e.target.value)} />
        </label>
        {error && <p className='alert bad' role='alert'>{error}</p>}
        <button type='submit' disabled={busy}>{busy ? t('signingIn') : t('signIn')}</button>
      </form>
    </main>
  );
}
