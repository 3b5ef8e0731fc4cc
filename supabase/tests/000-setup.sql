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

-- The SQLSTATE, message and detail of the error a statement raises (NULL when
-- it succeeds). Runs as the caller (security invoker), in a subtransaction,
-- so nothing the statement wrote survives. Lets a test read the JSON detail.
create or replace function tests.error_of(p_sql text)
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  st text;
  msg text;
  det text;
begin
  execute p_sql;
  return null;
exception when others then
  get stacked diagnostics st = returned_sqlstate, msg = message_text, det = pg_exception_detail;
  return jsonb_build_object('sqlstate', st, 'message', msg, 'detail', nullif(det, ''));
end
$$;

-- checkout.begin_checkout for a named shopper with a valid payer and address.
-- Security invoker: call it as service_role, as the Edge Function does.
create or replace function tests.begin_checkout(p_name text, p_coupon text default null)
returns jsonb
language sql
set search_path = ''
as $$
  select checkout.begin_checkout(
    tests.shopper(p_name),
    jsonb_build_object('email', p_name || '@example.com', 'name', p_name),
    '{"street_name": "Av. Corrientes", "street_number": "1234", "zip_code": "1043", "city": "CABA"}'::jsonb,
    p_coupon)
$$;

-- A payment as checkout.apply_payment receives it (fetched from MercadoPago).
create or replace function tests.payment(
  p_token text,
  p_status text,
  p_amount numeric,
  p_id bigint,
  p_currency text default 'ARS'
)
returns jsonb
language sql
immutable
set search_path = ''
as $$
  select jsonb_build_object(
    'id', p_id,
    'status', p_status,
    'status_detail', case p_status when 'approved' then 'accredited' when 'rejected' then 'cc_rejected_other_reason' else p_status end,
    'transaction_amount', p_amount,
    'currency_id', p_currency,
    'external_reference', p_token,
    'payment_type_id', 'credit_card',
    'payment_method_id', 'visa',
    'date_created', '2026-11-23T10:00:00.000-03:00'
  )
$$;

-- Moves an order session and its reservations into the past (as time would).
create or replace function tests.expire_order_session(p_order_session_id uuid, p_ago interval default interval '1 minute')
returns void
language plpgsql
security definer
set search_path = ''
as $$
begin
  update public.order_sessions set expires_at = now() - p_ago where id = p_order_session_id;
  update public.stock_reservations set expires_at = now() - p_ago where order_session_id = p_order_session_id;
end
$$;

-- Sets a cart's expires_at, bypassing the trigger that slides it (the way
-- time passing would). Superuser-owned: session_replication_role skips triggers.
create or replace function tests.set_cart_expiry(p_name text, p_expires_at timestamptz)
returns void
language plpgsql
security definer
set search_path = ''
as $$
begin
  perform set_config('session_replication_role', 'replica', true);
  update public.carts set expires_at = p_expires_at where session_id = tests.shopper(p_name);
  perform set_config('session_replication_role', 'origin', true);
end
$$;

-- Everything stored for a shopper's cart, to show that a failed call wrote nothing.
create or replace function tests.cart_state(p_name text)
returns jsonb
language sql
stable
security definer
set search_path = ''
as $$
  select jsonb_build_object(
    'cart', (select to_jsonb(c) from public.carts c where c.session_id = tests.shopper(p_name)),
    'items', coalesce((select jsonb_agg(to_jsonb(ci) order by ci.variant_id)
                         from public.cart_items ci where ci.session_id = tests.shopper(p_name)), '[]'::jsonb))
$$;

-- The kinds of an order session's event log, in order.
create or replace function tests.event_kinds(p_order_session_id uuid)
returns text[]
language sql
stable
security definer
set search_path = ''
as $$
  select coalesce(array_agg(e.kind order by e.id), '{}')
    from public.order_session_events e where e.order_session_id = p_order_session_id
$$;

-- How many rows a statement touched, run as the caller (so RLS applies).
create or replace function tests.rows_affected(p_sql text)
returns integer
language plpgsql
set search_path = ''
as $$
declare
  n integer;
begin
  execute p_sql;
  get diagnostics n = row_count;
  return n;
end
$$;

grant execute on all functions in schema tests to anon, authenticated, service_role;

select plan(14);
select has_function('tests', 'create_shopper', array['text']);
select has_function('tests', 'authenticate_as', array['text']);
select has_function('tests', 'authenticate_as_anon', array[]::text[]);
select has_function('tests', 'authenticate_as_service_role', array[]::text[]);
select has_function('tests', 'clear_authentication', array[]::text[]);
select has_function('tests', 'create_variant', array['text', 'integer', 'numeric', 'text']);
select has_function('tests', 'error_of', array['text']);
select has_function('tests', 'begin_checkout', array['text', 'text']);
select has_function('tests', 'payment', array['text', 'text', 'numeric', 'bigint', 'text']);
select has_function('tests', 'expire_order_session', array['uuid', 'interval']);
select has_function('tests', 'set_cart_expiry', array['text', 'timestamp with time zone']);
select has_function('tests', 'cart_state', array['text']);
select has_function('tests', 'event_kinds', array['uuid']);
select has_function('tests', 'rows_affected', array['text']);
select * from finish();
