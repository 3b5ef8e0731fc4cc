-- The helpers (helpers/tests.psql) exist once included, as every file
-- includes them.
begin;
\ir helpers/tests.psql

select plan(20);
select has_function('tests', 'create_shopper', array['text']);
select has_function('tests', 'authenticate_as', array['text']);
select has_function('tests', 'authenticate_as_anon', array[]::text[]);
select has_function('tests', 'authenticate_as_service_role', array[]::text[]);
select has_function('tests', 'clear_authentication', array[]::text[]);
select has_function('tests', 'create_variant', array['text', 'integer', 'numeric', 'text']);
select has_function('tests', 'error_of', array['text']);
select has_function('tests', 'fill_cart', array['text', 'uuid[]', 'integer[]']);
select has_function('tests', 'begin_checkout', array['text', 'text']);
select has_function('tests', 'payment', array['text', 'text', 'numeric', 'bigint', 'text']);
select has_function('tests', 'expire_order_session', array['uuid', 'interval']);
select has_function('tests', 'set_cart_expiry', array['text', 'timestamp with time zone']);
select has_function('tests', 'set_cart_idle', array['text', 'interval']);
select has_function('tests', 'cart_state', array['text']);
select has_function('tests', 'event_kinds', array['uuid']);
select has_function('tests', 'rows_affected', array['text']);
select has_function('tests', 'tables_without_rls', array['text']);
select has_function('tests', 'rls_enabled', array['text']);
-- pgTAP is usable by every role a test acts as, whoever created it: the
-- helpers grant it (nothing outside the file prepares the database).
select is_empty(
  $$ select p.oid::regprocedure from pg_depend d join pg_extension e on e.oid = d.refobjid and e.extname = 'pgtap'
       join pg_proc p on p.oid = d.objid
      where d.classid = 'pg_proc'::regclass and d.deptype = 'e'
        and not (has_function_privilege('anon', p.oid, 'execute') and has_function_privilege('authenticated', p.oid, 'execute')
                 and has_function_privilege('service_role', p.oid, 'execute')) $$,
  'pgTAP: every function is executable by anon, authenticated and service_role'
);
select tests.authenticate_as_anon();
select ok(true, 'pgTAP: a test acting as anon calls ok()');
select tests.clear_authentication();
select * from finish();
rollback;
