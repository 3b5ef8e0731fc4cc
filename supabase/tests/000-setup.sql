-- Test helpers, in the spirit of usebasejump/supabase-test-helpers. This file
-- runs first and commits (no rollback) so the helpers exist for every other
-- file; each of those runs in a transaction that it rolls back.

create schema if not exists tests;
grant usage on schema tests to anon, authenticated, service_role;

-- A shopper is an (anonymous) Supabase user; tests refer to them by name.
create or replace function tests.create_shopper(p_name text)
returns uuid
language plpgsql
security definer
set search_path = ''
as $$
declare
  uid uuid := gen_random_uuid();
begin
  insert into auth.users (id, is_anonymous, raw_user_meta_data)
  values (uid, true, jsonb_build_object('test_name', p_name));
  return uid;
end
$$;

create or replace function tests.shopper(p_name text)
returns uuid
language sql
stable
security definer
set search_path = ''
as $$
  select id from auth.users where raw_user_meta_data ->> 'test_name' = p_name order by created_at desc limit 1
$$;

-- Act as PostgREST does for a signed-in (anonymous) user.
create or replace function tests.authenticate_as(p_name text)
returns void
language plpgsql
set search_path = ''
as $$
declare
  uid uuid := tests.shopper(p_name);
begin
  if uid is null then
    raise exception 'tests.authenticate_as: no shopper named %', p_name;
  end if;
  perform set_config('role', 'authenticated', true);
  perform set_config('request.jwt.claims',
    jsonb_build_object('sub', uid, 'role', 'authenticated', 'aud', 'authenticated', 'is_anonymous', true)::text, true);
end
$$;

-- Act as a request with only the anon key.
create or replace function tests.authenticate_as_anon()
returns void
language plpgsql
set search_path = ''
as $$
begin
  perform set_config('role', 'anon', true);
  perform set_config('request.jwt.claims', jsonb_build_object('role', 'anon')::text, true);
end
$$;

-- Act as the Edge Functions do (service_role).
create or replace function tests.authenticate_as_service_role()
returns void
language plpgsql
set search_path = ''
as $$
begin
  perform set_config('role', 'service_role', true);
  perform set_config('request.jwt.claims', jsonb_build_object('role', 'service_role')::text, true);
end
$$;

-- Back to the test's own superuser.
create or replace function tests.clear_authentication()
returns void
language plpgsql
set search_path = ''
as $$
begin
  perform set_config('role', 'postgres', true);
  perform set_config('request.jwt.claims', '', true);
end
$$;

-- A product with one variant; returns the variant id.
create or replace function tests.create_variant(
  p_sku text,
  p_stock integer,
  p_price numeric default 1000,
  p_currency text default 'ARS'
)
returns uuid
language plpgsql
security definer
set search_path = ''
as $$
declare
  pid uuid;
  vid uuid;
begin
  insert into public.products (slug, title)
  values (lower(regexp_replace(p_sku, '[^A-Za-z0-9]+', '-', 'g')) || '-' || substr(md5(random()::text), 1, 6), 'Product ' || p_sku)
  returning id into pid;
  insert into public.variants (product_id, sku, title, price, currency, stock_on_hand)
  values (pid, p_sku, 'Variant ' || p_sku, p_price, p_currency, p_stock)
  returning id into vid;
  return vid;
end
$$;

create or replace function tests.variant(p_sku text)
returns uuid
language sql
stable
security definer
set search_path = ''
as $$
  select id from public.variants where sku = p_sku
$$;

grant execute on all functions in schema tests to anon, authenticated, service_role;

select plan(6);
select has_function('tests', 'create_shopper', array['text']);
select has_function('tests', 'authenticate_as', array['text']);
select has_function('tests', 'authenticate_as_anon', array[]::text[]);
select has_function('tests', 'authenticate_as_service_role', array[]::text[]);
select has_function('tests', 'clear_authentication', array[]::text[]);
select has_function('tests', 'create_variant', array['text', 'integer', 'numeric', 'text']);
select * from finish();
