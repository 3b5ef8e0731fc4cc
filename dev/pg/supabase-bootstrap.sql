-- Supabase-compatibility bootstrap for a plain PostgreSQL cluster.
--
-- TEST AND LOCAL-STACK TOOLING, NEVER A MIGRATION. A Supabase project already
-- has all of this; here it recreates just what our migrations and tests rely
-- on, defined the way Supabase defines it:
--   * the API roles anon, authenticated, service_role and the authenticator
--     that PostgREST logs in as;
--   * auth.uid(), auth.role(), auth.jwt() reading request.jwt.claims (and the
--     legacy request.jwt.claim.* settings), as in supabase/postgres;
--   * a minimal auth.users table (and auth.sessions, auth.refresh_tokens for
--     the local Auth stand-in);
--   * the extensions schema, with pgcrypto.
-- It is idempotent so it can run against a cluster that survives restarts.

do $$
begin
  if not exists (select 1 from pg_roles where rolname = 'anon') then
    create role anon nologin noinherit;
  end if;
  if not exists (select 1 from pg_roles where rolname = 'authenticated') then
    create role authenticated nologin noinherit;
  end if;
  if not exists (select 1 from pg_roles where rolname = 'service_role') then
    create role service_role nologin noinherit bypassrls;
  end if;
  if not exists (select 1 from pg_roles where rolname = 'authenticator') then
    create role authenticator login noinherit password 'postgres';
  end if;
  if not exists (select 1 from pg_roles where rolname = 'supabase_admin') then
    create role supabase_admin login superuser createdb createrole replication bypassrls password 'postgres';
  end if;
end
$$;

grant anon, authenticated, service_role to authenticator;
grant anon, authenticated, service_role to postgres;

create schema if not exists extensions;
grant usage on schema extensions to anon, authenticated, service_role;
-- Supabase installs pgcrypto in extensions; the local Auth stand-in and
-- `npm run staff:add` hash passwords with it (bcrypt, as GoTrue stores them).
create extension if not exists pgcrypto with schema extensions;

grant usage on schema public to anon, authenticated, service_role;

create schema if not exists auth;
grant usage on schema auth to anon, authenticated, service_role;

create table if not exists auth.users (
  instance_id uuid,
  id uuid primary key,
  aud varchar(255) default 'authenticated',
  role varchar(255) default 'authenticated',
  email varchar(255),
  encrypted_password varchar(255),
  raw_app_meta_data jsonb default '{}'::jsonb,
  raw_user_meta_data jsonb default '{}'::jsonb,
  is_anonymous boolean not null default false,
  created_at timestamptz default now(),
  updated_at timestamptz default now(),
  last_sign_in_at timestamptz
);

-- The other columns hosted Supabase's auth.users has, so that standard
-- Supabase test helpers (which insert email, phone, metadata...) work here.
alter table auth.users add column if not exists phone text unique;
alter table auth.users add column if not exists email_confirmed_at timestamptz;
alter table auth.users add column if not exists phone_confirmed_at timestamptz;
alter table auth.users add column if not exists confirmed_at timestamptz;
alter table auth.users add column if not exists invited_at timestamptz;
alter table auth.users add column if not exists confirmation_token varchar(255);
alter table auth.users add column if not exists recovery_token varchar(255);
alter table auth.users add column if not exists email_change varchar(255);
alter table auth.users add column if not exists banned_until timestamptz;
alter table auth.users add column if not exists deleted_at timestamptz;
alter table auth.users add column if not exists is_super_admin boolean;
alter table auth.users add column if not exists is_sso_user boolean not null default false;
-- Email and password accounts of the local Auth stand-in (dev/stack/auth.ts):
-- one account per address, as GoTrue's users_email_partial_key, and bcrypt
-- password hashes made with pgcrypto's crypt(), as GoTrue stores them.
create unique index if not exists users_email_partial_key on auth.users (email) where is_sso_user = false;
create extension if not exists pgcrypto with schema extensions;

-- Sessions and rotating refresh tokens, as Supabase Auth (GoTrue) keeps them;
-- used by the local Auth stand-in of `npm start` (dev/stack/auth.ts).
create table if not exists auth.sessions (
  id uuid primary key,
  user_id uuid not null references auth.users (id) on delete cascade,
  created_at timestamptz default now(),
  updated_at timestamptz default now(),
  aal text default 'aal1',
  not_after timestamptz,
  refreshed_at timestamp,
  user_agent text
);
create index if not exists sessions_user_id_idx on auth.sessions (user_id);

create table if not exists auth.refresh_tokens (
  instance_id uuid,
  id bigserial primary key,
  token varchar(255) unique,
  user_id varchar(255),
  revoked boolean default false,
  created_at timestamptz default now(),
  updated_at timestamptz default now(),
  parent varchar(255),
  session_id uuid references auth.sessions (id) on delete cascade
);
create index if not exists refresh_tokens_session_id_revoked_idx on auth.refresh_tokens (session_id, revoked);

create or replace function auth.uid() returns uuid
language sql stable
as $$
  select coalesce(
    nullif(current_setting('request.jwt.claim.sub', true), ''),
    (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub')
  )::uuid
$$;

create or replace function auth.role() returns text
language sql stable
as $$
  select coalesce(
    nullif(current_setting('request.jwt.claim.role', true), ''),
    (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'role')
  )::text
$$;

create or replace function auth.jwt() returns jsonb
language sql stable
as $$
  select coalesce(
    nullif(current_setting('request.jwt.claim', true), ''),
    nullif(current_setting('request.jwt.claims', true), '')
  )::jsonb
$$;

grant execute on function auth.uid(), auth.role(), auth.jwt() to anon, authenticated, service_role;

-- Supabase puts extensions (pgTAP among them) on the search path of its roles.
alter role postgres set search_path = "$user", public, extensions;
