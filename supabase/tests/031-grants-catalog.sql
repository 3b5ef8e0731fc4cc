-- Table privileges over the whole catalog, so a new table cannot slip through
-- with the grants Supabase's legacy default privileges would give it (npm
-- test runs this file again on a database bootstrapped with them).
begin;
\ir helpers/tests.psql
select plan(4);

select is_empty(
  $$ select (c.relnamespace::regnamespace::text || '.' || c.relname) || ': ' || p.privilege
       from pg_class c
       cross join unnest(array['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER']) p(privilege)
      where c.relnamespace in ('public'::regnamespace, 'private'::regnamespace, 'checkout'::regnamespace)
        and c.relkind in ('r', 'p', 'v', 'm')
        and has_table_privilege('anon', c.oid, p.privilege)
        and not (p.privilege = 'SELECT' and (c.relnamespace::regnamespace::text || '.' || c.relname) in ('public.products', 'public.variants')) $$,
  'anon: no privilege on any table but reading the catalog'
);
select is_empty(
  $$ select (c.relnamespace::regnamespace::text || '.' || c.relname) || ': ' || p.privilege
       from pg_class c
       cross join unnest(array['INSERT', 'UPDATE', 'DELETE']) p(privilege)
      where c.relnamespace in ('public'::regnamespace, 'private'::regnamespace, 'checkout'::regnamespace)
        and c.relkind in ('r', 'p', 'v', 'm')
        and has_table_privilege('authenticated', c.oid, p.privilege)
        and (c.relnamespace::regnamespace::text || '.' || c.relname) not in ('public.carts', 'public.cart_items') $$,
  'authenticated: writes only to the cart tables (under RLS)'
);
select is_empty(
  $$ select (c.relnamespace::regnamespace::text || '.' || c.relname) || ': ' || r.role || ' ' || p.privilege
       from pg_class c
       cross join unnest(array['anon', 'authenticated']) r(role)
       cross join unnest(array['TRUNCATE', 'REFERENCES', 'TRIGGER']) p(privilege)
      where c.relnamespace in ('public'::regnamespace, 'private'::regnamespace, 'checkout'::regnamespace)
        and c.relkind in ('r', 'p')
        and has_table_privilege(r.role, c.oid, p.privilege) $$,
  'anon, authenticated: no TRUNCATE, REFERENCES or TRIGGER anywhere'
);
select is_empty(
  $$ select (c.relnamespace::regnamespace::text || '.' || c.relname) || ': ' || r.role
       from pg_class c
       cross join unnest(array['anon', 'authenticated']) r(role)
      where c.relnamespace in ('public'::regnamespace, 'private'::regnamespace, 'checkout'::regnamespace)
        and c.relkind = 'S'
        and (has_sequence_privilege(r.role, c.oid, 'USAGE') or has_sequence_privilege(r.role, c.oid, 'UPDATE')) $$,
  'anon, authenticated: no sequence is usable'
);

select * from finish();
rollback;
