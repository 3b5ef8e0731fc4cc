-- RLS and table privileges on everything but the cart: order sessions,
-- orders and their lines (shoppers read their own), the service-only tables
-- (reservations, event log, payments, refunds, coupons), the catalog
-- (readable by everyone, writable by nobody through the API) and the settings.
begin;
\ir helpers/tests.psql
select plan(102);

select tests.create_shopper('ord-ana') as ana, tests.create_shopper('ord-bob') as bob,
       tests.create_variant('ORD-1', 10, 1000) as v1 \gset

select tests.fill_cart('ord-ana', array[:'v1']::uuid[], array[2]),
       tests.fill_cart('ord-bob', array[:'v1']::uuid[], array[1]) \gset

-- ana pays (an order), bob's session stays active.
select tests.authenticate_as_service_role() \gset
select s ->> 'id' as ana_os, s ->> 'token' as ana_tok from tests.begin_checkout('ord-ana') s \gset
select s ->> 'id' as bob_os, s ->> 'token' as bob_tok from tests.begin_checkout('ord-bob') s \gset
select checkout.apply_payment(tests.payment(:'ana_tok', 'approved', 2000, 7001)) ->> 'outcome' as ana_outcome \gset
-- bob: a rejected payment and a wrong-amount one (a refund owed) for him.
select checkout.apply_payment(tests.payment(:'bob_tok', 'rejected', 1000, 7002)) ->> 'outcome' as bob_rejected \gset
select checkout.apply_payment(tests.payment(:'bob_tok', 'approved', 100000, 7003)) ->> 'outcome' as bob_mismatch \gset
select tests.clear_authentication() \gset

select is(:'ana_outcome'::text, 'order_created', 'setup: ana has an order');
select is(:'bob_mismatch'::text, 'amount_mismatch', 'setup: bob has a refund owed');

-- ---------------------------------------------------------------------------
-- order_sessions: read own, never write
select tests.authenticate_as('ord-ana') \gset
select results_eq(
  $$ select id, status::text from public.order_sessions $$,
  format($$ values (%L::uuid, 'paid') $$, :'ana_os'),
  'order_sessions: a shopper reads exactly her own sessions'
);
select is_empty(
  format($$ select 1 from public.order_sessions where id = %L $$, :'bob_os'),
  'order_sessions: another shopper''s session is hidden'
);
select throws_ok(
  format($$ insert into public.order_sessions (session_id, lines, item_count, subtotal, total, currency, payer, shipping_address, expires_at)
            values (%L, '[{}]', 1, 1, 1, 'ARS', '{}', '{}', now() + interval '1 hour') $$, :'ana'),
  '42501', 'permission denied for table order_sessions',
  'order_sessions: a shopper cannot insert a session'
);
select throws_ok(
  format($$ update public.order_sessions set status = 'paid' where id = %L $$, :'ana_os'),
  '42501', 'permission denied for table order_sessions',
  'order_sessions: a shopper cannot update even her own session'
);
select throws_ok(
  format($$ delete from public.order_sessions where id = %L $$, :'ana_os'),
  '42501', 'permission denied for table order_sessions',
  'order_sessions: a shopper cannot delete her session'
);

-- orders and order_lines: read own
select results_eq(
  $$ select order_session_id, session_id, payment_id from public.orders $$,
  format($$ values (%L::uuid, %L::uuid, 7001::bigint) $$, :'ana_os', :'ana'),
  'orders: a shopper reads exactly her own order'
);
select results_eq(
  $$ select l.sku, l.quantity from public.order_lines l $$,
  $$ values ('ORD-1', 2) $$,
  'order_lines: a shopper reads the lines of her own order'
);
select results_eq(
  $$ select o ->> 'payment_id', jsonb_array_length(o -> 'lines') from jsonb_array_elements(public.get_my_orders()) o $$,
  $$ values ('7001', 1) $$,
  'get_my_orders: a shopper gets her own order with its lines'
);

select tests.authenticate_as('ord-bob') \gset
select results_eq(
  $$ select id from public.order_sessions $$,
  format($$ values (%L::uuid) $$, :'bob_os'),
  'order_sessions: bob reads only his own session'
);
select is_empty($$ select 1 from public.orders $$, 'orders: another shopper sees no order of ana''s');
select is_empty($$ select 1 from public.order_lines $$, 'order_lines: another shopper sees no line of ana''s order');
select is(public.get_my_orders(), '[]'::jsonb, 'get_my_orders: another shopper gets none of ana''s orders');
select is(
  tests.rows_affected(format($$ select 1 from public.order_sessions where id = %L $$, :'ana_os')),
  0,
  'order_sessions: ana''s session cannot be read by id either'
);

-- A request with no user sees nothing.
select set_config('role', 'authenticated', true), set_config('request.jwt.claims', '{"role": "authenticated"}', true) \gset
select is_empty($$ select 1 from public.order_sessions $$, 'order_sessions: a request without a user sees nothing');
select is_empty($$ select 1 from public.orders $$, 'orders: a request without a user sees nothing');

-- Writes to orders and order_lines: not granted to shoppers.
select tests.authenticate_as('ord-ana') \gset
select throws_ok(
  format($$ insert into public.%1$I default values $$, t),
  '42501', format('permission denied for table %s', t),
  format('%s: a shopper cannot insert', t))
from unnest(array['orders', 'order_lines']) t;
select throws_ok(
  format($$ update public.%1$I set %2$I = %2$I $$, t, c),
  '42501', format('permission denied for table %s', t),
  format('%s: a shopper cannot update', t))
from (values ('orders', 'status'), ('order_lines', 'quantity')) x(t, c);
select throws_ok(
  format($$ delete from public.%1$I $$, t),
  '42501', format('permission denied for table %s', t),
  format('%s: a shopper cannot delete', t))
from unnest(array['orders', 'order_lines']) t;

-- ---------------------------------------------------------------------------
-- Every operation refused, for anon on the shopper tables and for both API
-- roles on the service-only tables. Those live in checkout, which the API
-- roles cannot even use: PostgreSQL refuses the schema before the table.
select tests.clear_authentication() \gset
create temporary table denied (ord serial, role text, sch text, tbl text, col text);
insert into denied (role, sch, tbl, col) values
  ('anon', 'public', 'order_sessions', 'status'),
  ('anon', 'public', 'orders', 'status'),
  ('anon', 'public', 'order_lines', 'quantity'),
  ('anon', 'checkout', 'stock_reservations', 'quantity'),
  ('anon', 'checkout', 'order_session_events', 'kind'),
  ('anon', 'checkout', 'payment_events', 'status'),
  ('anon', 'checkout', 'payment_refunds', 'status'),
  ('anon', 'checkout', 'coupons', 'active'),
  ('authenticated', 'checkout', 'stock_reservations', 'quantity'),
  ('authenticated', 'checkout', 'order_session_events', 'kind'),
  ('authenticated', 'checkout', 'payment_events', 'status'),
  ('authenticated', 'checkout', 'payment_refunds', 'status'),
  ('authenticated', 'checkout', 'coupons', 'active');
grant select on denied to anon, authenticated;
create temporary table ops (ord integer, verb text, sql text);
insert into ops values
  (1, 'select', 'select 1 from %1$I.%2$I'),
  (2, 'insert', 'insert into %1$I.%2$I default values'),
  (3, 'update', 'update %1$I.%2$I set %3$I = %3$I'),
  (4, 'delete', 'delete from %1$I.%2$I');
grant select on ops to anon, authenticated;

select tests.authenticate_as_anon() \gset
select throws_ok(format(o.sql, d.sch, d.tbl, d.col), '42501',
                 case d.sch when 'public' then format('permission denied for table %s', d.tbl)
                            else format('permission denied for schema %s', d.sch) end,
                 format('%s.%s: anon cannot %s', d.sch, d.tbl, o.verb))
  from denied d cross join ops o
 where d.role = 'anon';

select tests.authenticate_as('ord-ana') \gset
select throws_ok(format(o.sql, d.sch, d.tbl, d.col), '42501', format('permission denied for schema %s', d.sch),
                 format('%s.%s: a shopper cannot %s', d.sch, d.tbl, o.verb))
  from denied d cross join ops o
 where d.role = 'authenticated';

-- ---------------------------------------------------------------------------
-- Catalog: readable by anon and authenticated, writable by neither.
select tests.authenticate_as_anon() \gset
select ok((select count(*) from public.products where slug = 'remera-basica') = 1, 'products: anon reads the catalog');
select ok((select count(*) from public.variants where sku = 'ORD-1') = 1, 'variants: anon reads the variants');
select throws_ok(format(o.sql, 'public', t.tbl, t.col), '42501', format('permission denied for table %s', t.tbl),
                 format('%s: anon cannot %s', t.tbl, o.verb))
  from (values ('products', 'title'), ('variants', 'price')) t(tbl, col) cross join ops o
 where o.verb <> 'select';
select lives_ok($$ select public.get_catalog() $$, 'get_catalog: anon may call it');

select tests.authenticate_as('ord-bob') \gset
select ok((select count(*) from public.products where slug = 'remera-basica') = 1, 'products: a shopper reads the catalog');
select ok((select count(*) from public.variants where sku = 'ORD-1') = 1, 'variants: a shopper reads the variants');
select throws_ok(format(o.sql, 'public', t.tbl, t.col), '42501', format('permission denied for table %s', t.tbl),
                 format('%s: a shopper cannot %s', t.tbl, o.verb))
  from (values ('products', 'title'), ('variants', 'price')) t(tbl, col) cross join ops o
 where o.verb <> 'select';

-- Settings: read only through private.current_settings() (security
-- definer, what the cart routines call); the table itself is closed to the
-- API roles, never writable.
select ok((private.current_settings()).max_line_quantity = 99, 'settings: a shopper''s routines read them through current_settings()');
select throws_ok($$ select * from private.settings $$, '42501', 'permission denied for table settings',
                 'settings: a shopper cannot read the table itself');
select throws_ok($$ update private.settings set max_line_quantity = 100000 $$, '42501',
                 'permission denied for table settings', 'settings: a shopper cannot change them');
select tests.authenticate_as_anon() \gset
select throws_ok($$ update private.settings set reservation_ttl = interval '1 day' $$, '42501',
                 'permission denied for schema private', 'settings: anon cannot change them (it cannot even reach schema private)');

-- ---------------------------------------------------------------------------
-- The service role reads the service-only tables (it bypasses RLS).
select tests.authenticate_as_service_role() \gset
select is((select count(*)::integer from public.order_sessions where id in (:'ana_os', :'bob_os')), 2, 'order_sessions: service_role reads every session');
select is((select count(*)::integer from checkout.payment_events where payment_id in (7001, 7002, 7003)), 3, 'payment_events: service_role reads them');
select is((select count(*)::integer from checkout.payment_refunds where payment_id = 7003), 1, 'payment_refunds: service_role reads them');
select is((select count(*)::integer from checkout.stock_reservations where order_session_id = :'bob_os'), 1, 'stock_reservations: service_role reads them');
select ok((select count(*) from checkout.order_session_events where order_session_id = :'ana_os') > 0, 'order_session_events: service_role reads them');
select throws_ok($$ delete from checkout.order_session_events $$, '42501', 'permission denied for table order_session_events',
                 'order_session_events: not even service_role may delete from the log');

select tests.clear_authentication() \gset
select * from finish();
rollback;
