-- Function, schema and table privileges. The checks over pg_proc cover every
-- routine in a schema, so a new one cannot slip through unreviewed.
begin;
\ir helpers/tests.psql
select plan(58);

-- ---------------------------------------------------------------------------
-- Schema checkout: service_role only.
select set_eq(
  $$ select p.oid::regprocedure::text from pg_proc p where p.pronamespace = 'checkout'::regnamespace $$,
  array[
    'checkout.apply_fraud_alert(jsonb,text)',
    'checkout.apply_payment(jsonb)',
    'checkout.attach_preference(uuid,text)',
    'checkout.audit()',
    'checkout.begin_checkout(uuid,jsonb,jsonb,text)',
    'checkout.begin_client_checkout(uuid,jsonb,jsonb,text,text,boolean)',
    'checkout.claim_mp_notifications(integer,interval,bigint)',
    'checkout.claim_offline_expiry(integer)',
    'checkout.claim_order_refunds(integer)',
    'checkout.claim_preference_expiry(integer)',
    'checkout.claim_reconciliation(interval,integer)',
    'checkout.claim_refunds(integer)',
    'checkout.cleanup()',
    'checkout.expire_sessions(integer)',
    'checkout.find_order_session(text)',
    'checkout.finish_mp_notification(bigint,jsonb)',
    'checkout.mark_preference_expired(uuid)',
    'checkout.merge_carts(uuid,uuid,uuid)',
    'checkout.note_mp_notification_failure(bigint,text)',
    'checkout.note_refund_failure(bigint,text)',
    'checkout.note_return_lookup(uuid)',
    'checkout.offline_methods_allowed(uuid)',
    'checkout.offline_payment(uuid)',
    'checkout.purge_anonymous_users(integer)',
    'checkout.purge_carts(integer)',
    'checkout.record_dispute(text,jsonb)',
    'checkout.record_offline_cancel(bigint,text)',
    'checkout.record_order_refund(uuid,text,text)',
    'checkout.record_refund(bigint,text)',
    'checkout.refund_unpaired_parts(interval,integer)',
    'checkout.release_session(uuid,text)',
    'checkout.require_user(uuid)',
    'checkout.stats()',
    'checkout.store_country()',
    'checkout.store_mp_notification(text,text,text,jsonb)',
    'checkout.top_holders(integer)',
    'checkout.trim_sessions(integer)'
  ],
  'checkout: the privileged routines are exactly the reviewed ones (add a new one here and to the checks below)'
);
select is_empty(
  $$ select p.oid::regprocedure from pg_proc p
      where p.pronamespace = 'checkout'::regnamespace and has_function_privilege('anon', p.oid, 'execute') $$,
  'checkout: no function or procedure is executable by anon'
);
select is_empty(
  $$ select p.oid::regprocedure from pg_proc p
      where p.pronamespace = 'checkout'::regnamespace and has_function_privilege('authenticated', p.oid, 'execute') $$,
  'checkout: no function or procedure is executable by authenticated'
);
select is_empty(
  $$ select p.oid::regprocedure from pg_proc p, aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
      where p.pronamespace = 'checkout'::regnamespace and a.grantee = 0 and a.privilege_type = 'EXECUTE' $$,
  'checkout: no function or procedure is executable by PUBLIC'
);
select is_empty(
  $$ select p.oid::regprocedure from pg_proc p
      where p.pronamespace = 'checkout'::regnamespace and not has_function_privilege('service_role', p.oid, 'execute') $$,
  'checkout: every function and procedure is executable by service_role'
);
select is_empty(
  $$ select p.oid::regprocedure from pg_proc p
      where p.pronamespace = 'checkout'::regnamespace and p.prokind = 'f'
        and not (p.prosecdef and p.proconfig @> array['search_path=""']) $$,
  'checkout: every function is security definer with an empty search_path'
);
select ok(not has_schema_privilege('anon', 'checkout', 'usage'), 'checkout: anon has no usage on the schema');
select ok(not has_schema_privilege('authenticated', 'checkout', 'usage'), 'checkout: authenticated has no usage on the schema');
select ok(has_schema_privilege('service_role', 'checkout', 'usage'), 'checkout: service_role has usage on the schema');

-- A few by name, the pgTAP way.
select function_privs_are('checkout', 'begin_checkout', array['uuid', 'jsonb', 'jsonb', 'text'], 'authenticated', array[]::text[],
  'begin_checkout: not executable by authenticated');
select function_privs_are('checkout', 'apply_payment', array['jsonb'], 'anon', array[]::text[],
  'apply_payment: not executable by anon');
select function_privs_are('checkout', 'apply_payment', array['jsonb'], 'authenticated', array[]::text[],
  'apply_payment: not executable by authenticated');
select function_privs_are('checkout', 'apply_payment', array['jsonb'], 'service_role', array['EXECUTE'],
  'apply_payment: executable by service_role');
select function_privs_are('checkout', 'top_holders', array['integer'], 'authenticated', array[]::text[],
  'top_holders: not executable by authenticated');
select function_privs_are('checkout', 'top_holders', array['integer'], 'service_role', array['EXECUTE'],
  'top_holders: executable by service_role');

-- ---------------------------------------------------------------------------
-- The public API: cart RPCs and get_my_orders for authenticated only, the
-- catalog for both.
-- PUBLIC holds EXECUTE on no function: per-schema `alter default privileges
-- ... revoke` cannot take it away (per-schema defaults only add to the global
-- ones); the global default in 00_foundation.sql does.
select function_privs_are('public', 'get_cart', array[]::text[], 'anon', array[]::text[], 'get_cart: not executable by anon');
select function_privs_are('public', 'add_to_cart', array['uuid', 'integer'], 'anon', array[]::text[], 'add_to_cart: not executable by anon');
select function_privs_are('public', 'set_cart_item_quantity', array['uuid', 'integer'], 'anon', array[]::text[], 'set_cart_item_quantity: not executable by anon');
select function_privs_are('public', 'remove_from_cart', array['uuid'], 'anon', array[]::text[], 'remove_from_cart: not executable by anon');
select function_privs_are('public', 'clear_cart', array[]::text[], 'anon', array[]::text[], 'clear_cart: not executable by anon');
select function_privs_are('public', 'get_cart', array[]::text[], 'authenticated', array['EXECUTE'], 'get_cart: executable by authenticated');
select function_privs_are('public', 'add_to_cart', array['uuid', 'integer'], 'authenticated', array['EXECUTE'], 'add_to_cart: executable by authenticated');
select function_privs_are('public', 'set_cart_item_quantity', array['uuid', 'integer'], 'authenticated', array['EXECUTE'], 'set_cart_item_quantity: executable by authenticated');
select function_privs_are('public', 'remove_from_cart', array['uuid'], 'authenticated', array['EXECUTE'], 'remove_from_cart: executable by authenticated');
select function_privs_are('public', 'clear_cart', array[]::text[], 'authenticated', array['EXECUTE'], 'clear_cart: executable by authenticated');
select function_privs_are('public', 'get_my_orders', array[]::text[], 'anon', array[]::text[], 'get_my_orders: not executable by anon');
select function_privs_are('public', 'get_my_orders', array[]::text[], 'authenticated', array['EXECUTE'], 'get_my_orders: executable by authenticated');
select function_privs_are('public', 'get_catalog', array[]::text[], 'anon', array['EXECUTE'], 'get_catalog: executable by anon');
select function_privs_are('public', 'get_catalog', array[]::text[], 'authenticated', array['EXECUTE'], 'get_catalog: executable by authenticated');
select is_empty(
  $$ select p.oid::regprocedure from pg_proc p
      where p.pronamespace = 'public'::regnamespace and p.prorettype <> 'trigger'::regtype
        and has_function_privilege('anon', p.oid, 'execute')
        and p.oid <> 'public.get_catalog()'::regprocedure $$,
  'public: anon may execute get_catalog and nothing else'
);
-- The service-only helpers (private.close_order_session, log_event,
-- owe_refund, order_json, order_session_json...) are not for the API roles.
select is_empty(
  $$ select p.oid::regprocedure from pg_proc p
      where p.pronamespace = 'private'::regnamespace and p.prorettype <> 'trigger'::regtype
        and has_function_privilege('anon', p.oid, 'execute') $$,
  'private: anon may execute nothing'
);
select ok(not has_schema_privilege('anon', 'private', 'usage'), 'private: anon has no usage on the schema');
select is_empty(
  $$ select p.oid::regprocedure from pg_proc p
      where p.pronamespace = 'storefront'::regnamespace
        and (p.oid <> 'storefront.available_stock(uuid)'::regprocedure or not p.prosecdef) $$,
  'storefront: holds only the security definer available_stock'
);
select function_privs_are('storefront', 'available_stock', array['uuid'], 'anon', array['EXECUTE'],
  'storefront.available_stock: executable by anon (public.get_catalog calls it)');
select is_empty(
  $$ select p.oid::regprocedure from pg_proc p
      where p.pronamespace = 'private'::regnamespace and p.prorettype <> 'trigger'::regtype
        and has_function_privilege('authenticated', p.oid, 'execute')
        and p.oid not in ('private.current_settings()'::regprocedure, 'private.available_stock(uuid)'::regprocedure,
                          'private.require_shopper()'::regprocedure, 'private.cart_json(uuid)'::regprocedure,
                          'private.touch_cart(uuid)'::regprocedure, 'private.order_json(public.orders)'::regprocedure,
                          'private.check_line_request(uuid,integer,integer)'::regprocedure,
                          'private.coupon_quote(text)'::regprocedure) $$,
  'private: authenticated may execute only the helpers the cart and order RPCs need'
);
select is_empty(
  $$ select p.oid::regprocedure from pg_proc p, aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
      where p.pronamespace in ('public'::regnamespace, 'private'::regnamespace) and p.prorettype <> 'trigger'::regtype
        and a.grantee = 0 and a.privilege_type = 'EXECUTE' $$,
  'public and private: no function is executable by PUBLIC (grants go to named roles)'
);
-- The default that makes it so: the migration owner's functions start with no
-- PUBLIC grant (alter default privileges ... revoke execute on functions from
-- public), so a function a later migration forgets to revoke is still closed.
create function private.default_acl_probe() returns integer language sql set search_path = '' as $$ select 1 $$;
select is_empty(
  $$ select a.grantee from pg_proc p, aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
      where p.oid = 'private.default_acl_probe()'::regprocedure and a.grantee = 0 $$,
  'a function the migration owner creates is not executable by PUBLIC by default'
);

-- ---------------------------------------------------------------------------
-- The same, by calling.
select tests.authenticate_as_anon() \gset
-- anon is refused the function itself, not answered later with the
-- "no shopper session" error.
select throws_ok($$ select public.get_cart() $$, '42501', 'permission denied for function get_cart',
  'anon calling get_cart: permission denied for the function');
select throws_ok($$ select checkout.apply_payment('{}') $$, '42501', 'permission denied for schema checkout',
  'anon calling apply_payment: permission denied');
select throws_ok($$ select checkout.expire_sessions() $$, '42501', 'permission denied for schema checkout',
  'anon calling expire_sessions: permission denied');
select lives_ok($$ select public.get_catalog() $$, 'anon may call get_catalog');

select tests.create_shopper('grants-ana') as ana \gset
select tests.authenticate_as('grants-ana') \gset
select lives_ok($$ select public.get_cart() $$, 'authenticated may call get_cart');
select lives_ok($$ select public.get_catalog() $$, 'authenticated may call get_catalog');
select throws_ok(
  format($$ select checkout.begin_checkout(%L, '{"email": "a@b.co"}', '{}') $$, :'ana'),
  '42501', 'permission denied for schema checkout',
  'authenticated calling begin_checkout: permission denied');
select throws_ok($$ select checkout.stats() $$, '42501', 'permission denied for schema checkout',
  'authenticated calling stats: permission denied');
select throws_ok($$ select checkout.purge_carts() $$, '42501', 'permission denied for schema checkout',
  'authenticated calling purge_carts: permission denied');

select tests.authenticate_as_service_role() \gset
select lives_ok($$ select checkout.stats() $$, 'service_role may call stats');
select lives_ok($$ select checkout.expire_sessions() $$, 'service_role may call expire_sessions');
select lives_ok($$ select checkout.trim_sessions() $$, 'service_role may call trim_sessions');
select tests.clear_authentication() \gset

-- ---------------------------------------------------------------------------
-- Table privileges, as granted in the migrations.
select table_privs_are('public', 'carts', 'authenticated', array['SELECT'], 'carts: authenticated may select the table; writes are per column');
select table_privs_are('public', 'cart_items', 'authenticated', array['SELECT', 'DELETE'], 'cart_items: authenticated may select and delete; writes are per column');
select is(
  array(select format('%s %s %s', c.relname, a.privilege_type, att.attname)
          from pg_class c
          join pg_attribute att on att.attrelid = c.oid and att.attnum > 0 and not att.attisdropped
          cross join lateral aclexplode(att.attacl) a
         where c.oid in ('public.carts'::regclass, 'public.cart_items'::regclass)
           and a.grantee = 'authenticated'::regrole and a.privilege_type in ('INSERT', 'UPDATE')
         order by 1),
  array['cart_items INSERT quantity', 'cart_items INSERT session_id', 'cart_items INSERT variant_id',
        'cart_items UPDATE quantity', 'carts INSERT session_id', 'carts UPDATE updated_at'],
  'carts and cart_items: authenticated writes exactly the columns the cart routines write'
);
select table_privs_are('public', 'order_sessions', 'authenticated', array['SELECT'], 'order_sessions: authenticated may only select');
select table_privs_are('public', 'orders', 'authenticated', array['SELECT'], 'orders: authenticated may only select');
select table_privs_are('public', 'order_lines', 'authenticated', array['SELECT'], 'order_lines: authenticated may only select');
select is_empty(
  $$ select c.oid::regclass from pg_class c
      where c.relnamespace = 'public'::regnamespace and c.relkind in ('r', 'p', 'v', 'm')
        and c.relname not in ('products', 'variants')
        and (has_table_privilege('anon', c.oid, 'select') or has_table_privilege('anon', c.oid, 'insert')
          or has_table_privilege('anon', c.oid, 'update') or has_table_privilege('anon', c.oid, 'delete')) $$,
  'public: anon holds no privilege on any table but the catalog'
);
select is_empty(
  $$ select c.oid::regclass from pg_class c
      where c.relnamespace = 'public'::regnamespace and c.relkind in ('r', 'p')
        and not c.relrowsecurity $$,
  'public: every table has row level security enabled'
);
select is_empty(
  $$ select c.oid::regclass || ' ' || r.role from pg_class c cross join unnest(array['anon', 'authenticated']) r(role)
      where c.relnamespace = 'checkout'::regnamespace and c.relkind in ('r', 'p')
        and (has_table_privilege(r.role, c.oid, 'select') or has_table_privilege(r.role, c.oid, 'insert')
          or has_table_privilege(r.role, c.oid, 'update') or has_table_privilege(r.role, c.oid, 'delete')) $$,
  'service-only tables (schema checkout): anon and authenticated hold no privilege'
);

select * from finish();
rollback;
