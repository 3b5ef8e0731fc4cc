-- Issue 25, CPU per checkout: begin_checkout, the only writer of order
-- sessions, does once what per-row triggers did on its insert (the fair-stock
-- caps, the merged account's group, the cart's analytics fact), writes one
-- event per checkout, and a new session (no preference yet) is not written
-- into the reconcile index. The rules themselves are tested where they live
-- (111 fair stock, 186 merged groups, 130 the funnel).
begin;
\ir helpers/tests.psql
select plan(7);

select tests.create_shopper('wo-ana') as ana, tests.create_variant('WO-A', 10, 1000) as va \gset
select tests.fill_cart('wo-ana', array[:'va']::uuid[], array[2]) \gset
select tests.clear_authentication() \gset

select is(
  array(select t.tgname::text from pg_trigger t
         where t.tgrelid = 'public.order_sessions'::regclass and not t.tgisinternal and (t.tgtype & 4) <> 0),
  '{}'::text[],
  'no trigger fires on an order session''s insert: begin_checkout does that work');
select ok(
  (select pg_get_expr(i.indpred, i.indrelid) ~ 'preference_id IS NOT NULL'
     from pg_index i where i.indexrelid = 'public.order_sessions_reconcile_idx'::regclass),
  'the reconcile index holds only sessions with a preference');

select is((select checkout_at from analytics.cart_facts where session_id = :'ana'), null, 'before the checkout: no checkout_at');
select tests.authenticate_as_service_role() \gset
select tests.begin_checkout('wo-ana') ->> 'id' as s1 \gset
select is((select checkout_at from analytics.cart_facts where session_id = :'ana'), now(), 'the cart''s first checkout stamps its fact');
-- As if that checkout were an hour old: a second checkout of the cart keeps the first stamp.
update analytics.cart_facts set checkout_at = now() - interval '1 hour' where session_id = :'ana';
select tests.begin_checkout('wo-ana') ->> 'id' as s2 \gset
select is((select checkout_at from analytics.cart_facts where session_id = :'ana'), now() - interval '1 hour',
  'a later checkout of the same cart keeps the first stamp');
select is(tests.event_kinds(:'s1'), array['created', 'cancelled'], 'the replaced session: created, then cancelled');
select is(
  (select jsonb_agg(jsonb_build_array(kind, detail -> 'replaces', detail -> 'lines')) from checkout.order_session_events where order_session_id = :'s2'),
  jsonb_build_array(jsonb_build_array('created', jsonb_build_array(:'s1'), jsonb_build_array(jsonb_build_object('sku', 'WO-A', 'quantity', 2)))),
  'the new session: one event, created, naming the session it replaces and the lines it reserves');

select * from finish();
rollback;
