-- The helpers (helpers/tests.psql) exist once included, as every file
-- includes them.
begin;
\ir helpers/tests.psql

select plan(17);
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
select has_function('tests', 'set_cart_idle', array['text', 'interval']);
select has_function('tests', 'cart_state', array['text']);
select has_function('tests', 'event_kinds', array['uuid']);
select has_function('tests', 'rows_affected', array['text']);
select has_function('tests', 'tables_without_rls', array['text']);
select has_function('tests', 'rls_enabled', array['text']);
select * from finish();
rollback;
