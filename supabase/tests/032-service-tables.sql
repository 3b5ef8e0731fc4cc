-- public holds only what shoppers use; the service-only tables live in
-- checkout, which the Data API never exposes
-- (they moved there from public once). Routine bodies are text, so a routine
-- that names public.<moved table> would fail only when called: the check over
-- every body catches one a later change brings back.
begin;
\ir helpers/tests.psql
select plan(31);

\set moved 'public\\.(stock_reservations|payment_events|payment_refunds|coupons|order_session_events|order_number_seq)\\M'

select set_eq(
  $$ select c.relname::text from pg_class c
      where c.relnamespace = 'public'::regnamespace and c.relkind in ('r', 'p', 'v', 'm', 'f', 'S') $$,
  array['products', 'variants', 'carts', 'cart_items', 'order_sessions', 'orders', 'order_lines'],
  'public: only the shopper''s tables (the catalog, the cart, her order sessions and orders), no sequence or service table'
);
select has_table('checkout', t, format('checkout.%s exists', t))
  from unnest(array['stock_reservations', 'payment_events', 'payment_refunds', 'coupons', 'order_session_events']) t;
select has_sequence('checkout', 'order_number_seq', 'checkout.order_number_seq exists');
select is(
  (select pg_get_expr(d.adbin, d.adrelid) from pg_attrdef d join pg_attribute a on a.attrelid = d.adrelid and a.attnum = d.adnum
    where d.adrelid = 'public.orders'::regclass and a.attname = 'order_number'),
  $$('ORD-'::text || lpad((nextval('checkout.order_number_seq'::regclass))::text, 6, '0'::text))$$,
  'orders.order_number draws from checkout.order_number_seq'
);

-- ---------------------------------------------------------------------------
-- Nothing names them in public any more.
create temporary table naming_moved (sql text);
insert into naming_moved values (format(
  $$ select p.oid::regprocedure::text from pg_proc p
      where p.prosrc ~ %L
        and not exists (select 1 from pg_depend d where d.classid = 'pg_proc'::regclass and d.objid = p.oid and d.deptype = 'e')
      order by 1 $$, :'moved'));
select is_empty((select sql from naming_moved), 'no routine body names a service-only table in public');
select is_empty(
  format($$ select jobname from cron.job where command ~ %L $$, :'moved'),
  'no pg_cron job names a service-only table in public'
);
select is_empty(
  format($$ select c.oid::regclass from pg_class c where c.relkind in ('v', 'm') and pg_get_viewdef(c.oid) ~ %L $$, :'moved'),
  'no view names a service-only table in public'
);
select is_empty(
  format($$ select description from pg_description where description ~ %L $$, :'moved'),
  'no comment names a service-only table in public'
);
-- The check can fail: a routine that names one is caught, and named.
create function private.naming_probe() returns bigint language plpgsql set search_path = ''
  as $$ begin return (select count(*) from public.coupons); end $$;
select results_eq((select sql from naming_moved), $$ values ('private.naming_probe()') $$,
  'a routine that names public.coupons is caught');

-- ---------------------------------------------------------------------------
-- Privileges came along: service_role as before, the API roles nothing.
select table_privs_are('checkout', 'stock_reservations', 'service_role', array['SELECT', 'INSERT', 'UPDATE', 'DELETE'],
  'stock_reservations: service_role selects, inserts, updates and deletes');
select table_privs_are('checkout', 'coupons', 'service_role', array['SELECT', 'INSERT', 'UPDATE', 'DELETE'],
  'coupons: service_role selects, inserts, updates and deletes');
select table_privs_are('checkout', 'payment_events', 'service_role', array['SELECT', 'INSERT', 'UPDATE'],
  'payment_events: service_role selects, inserts and updates');
select table_privs_are('checkout', 'payment_refunds', 'service_role', array['SELECT', 'INSERT', 'UPDATE'],
  'payment_refunds: service_role selects, inserts and updates');
select table_privs_are('checkout', 'order_session_events', 'service_role', array['SELECT', 'INSERT'],
  'order_session_events: service_role selects and inserts (append-only)');
select sequence_privs_are('checkout', 'order_number_seq', 'service_role', array['USAGE'],
  'order_number_seq: service_role may use it');
select table_privs_are('checkout', t, r, array[]::text[], format('%s: no privilege for %s', t, r))
  from unnest(array['stock_reservations', 'payment_events', 'payment_refunds', 'coupons', 'order_session_events']) t
 cross join unnest(array['anon', 'authenticated']) r;
select ok(not has_schema_privilege('anon', 'checkout', 'usage') and not has_schema_privilege('authenticated', 'checkout', 'usage'),
  'checkout: neither anon nor authenticated may use the schema');

-- Reached the way PostgREST would: refused at the schema.
select tests.create_shopper('svc-ana') \gset
select tests.authenticate_as('svc-ana') \gset
select throws_ok($$ select code from checkout.coupons $$, '42501', 'permission denied for schema checkout',
  'a shopper cannot read the coupons');
select tests.clear_authentication() \gset

select * from finish();
rollback;
