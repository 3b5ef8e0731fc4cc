-- checkout.stats(): the documented shape and every count, over a known mix
-- of sessions, orders, reservations and refunds. (The database holds no
-- committed sessions, orders or refunds: every test file rolls back.)
begin;
\ir helpers/tests.psql
select plan(16);

select tests.authenticate_as_service_role() \gset
select checkout.stats() as empty \gset
select tests.clear_authentication() \gset
select is(
  :'empty'::jsonb -> 'sessions_by_status',
  '{"active": 0, "paid": 0, "expired": 0, "cancelled": 0, "refund_owed": 0, "refunded": 0}'::jsonb,
  'stats on an empty store: every status, at zero'
);
select is(:'empty'::jsonb -> 'conversion_rate', 'null'::jsonb, 'stats on an empty store: no conversion rate (no division by zero)');

select tests.create_variant('ST-A', 50, 1000) as va, tests.create_variant('ST-C', 1, 1000) as vc \gset
select count(tests.create_shopper(n)) as shoppers from unnest(array['st-ana', 'st-bob', 'st-carol', 'st-dan', 'st-erin', 'st-frank', 'st-gina', 'st-hank', 'st-ivan']) n \gset
do $$
declare
  n text;
begin
  foreach n in array array['st-ana', 'st-bob', 'st-carol', 'st-dan', 'st-erin', 'st-gina', 'st-hank', 'st-ivan'] loop
    perform tests.authenticate_as(n);
    perform public.add_to_cart(tests.variant('ST-A'), case n when 'st-bob' then 2 else 1 end);
  end loop;
  perform tests.authenticate_as('st-frank');
  perform public.add_to_cart(tests.variant('ST-C'), 1);
  perform tests.clear_authentication();
end
$$;

select tests.authenticate_as_service_role() \gset
select s ->> 'id' as s_ana, s ->> 'token' as t_ana from tests.begin_checkout('st-ana') s \gset
select s ->> 'id' as s_bob from tests.begin_checkout('st-bob') s \gset
select s ->> 'id' as s_carol from tests.begin_checkout('st-carol') s \gset
select s ->> 'id' as s_dan from tests.begin_checkout('st-dan') s \gset
select s ->> 'id' as s_erin from tests.begin_checkout('st-erin') s \gset
select s ->> 'id' as s_frank, s ->> 'token' as t_frank from tests.begin_checkout('st-frank') s \gset
select s ->> 'id' as s_gina, s ->> 'token' as t_gina from tests.begin_checkout('st-gina') s \gset
select s ->> 'id' as s_hank, s ->> 'token' as t_hank from tests.begin_checkout('st-hank') s \gset
select s ->> 'id' as s_ivan, s ->> 'token' as t_ivan from tests.begin_checkout('st-ivan') s \gset

-- ana: paid, a duplicate payment refunded, then the order refunded.
select checkout.apply_payment(tests.payment(:'t_ana', 'approved', 1000, 5101)) \gset
select checkout.apply_payment(tests.payment(:'t_ana', 'approved', 1000, 5102)) \gset
select checkout.record_refund(5102, 'mp-r-5102') \gset
select checkout.apply_payment(tests.payment(:'t_ana', 'refunded', 1000, 5101)) \gset
-- bob: active, 2 units reserved. gina: active, 1 unit, two wrong payments.
select checkout.apply_payment(tests.payment(:'t_gina', 'approved', 1001, 5701)) \gset
select checkout.apply_payment(tests.payment(:'t_gina', 'approved', 1000, 5702, 'USD')) \gset
-- dan and hank: expired by the cron; hank then pays late (stock is there).
select tests.expire_order_session(:'s_dan') \gset
select tests.expire_order_session(:'s_hank') \gset
select checkout.expire_sessions() \gset
select checkout.apply_payment(tests.payment(:'t_hank', 'approved', 1000, 5801)) \gset
-- erin: cancelled. ivan: paid.
select checkout.release_session(:'s_erin') \gset
select checkout.apply_payment(tests.payment(:'t_ivan', 'approved', 1000, 5901)) \gset
-- carol: still active but past expires_at (the cron has not run).
select tests.expire_order_session(:'s_carol') \gset
-- frank: pays after expiry, the last unit sold meanwhile: refund owed.
select tests.expire_order_session(:'s_frank') \gset
select tests.clear_authentication() \gset
update public.variants set stock_on_hand = 0 where id = :'vc';
select tests.authenticate_as_service_role() \gset
select checkout.apply_payment(tests.payment(:'t_frank', 'approved', 1000, 5601)) \gset

select checkout.stats() as st \gset
select tests.clear_authentication() \gset

select set_eq(
  $$ select jsonb_object_keys($$ || quote_literal(:'st') || $$::jsonb) $$,
  array['generated_at', 'sessions_by_status', 'conversion_rate', 'last_24h', 'active_reservations', 'late_payments',
        'refunds_owed', 'refunds_made', 'refunds_by_reason', 'amount_mismatches', 'unmatched_payments', 'expired_last_24h',
        'stuck', 'orders'],
  'stats: the documented keys'
);
select is((:'st'::jsonb ->> 'generated_at')::timestamptz, now(), 'stats: generated_at');
select is(
  :'st'::jsonb -> 'sessions_by_status',
  '{"active": 3, "paid": 3, "expired": 1, "cancelled": 1, "refund_owed": 1, "refunded": 0}'::jsonb,
  'stats: sessions by status (an active session past expires_at still counts as active until the cron runs)'
);
select is((:'st'::jsonb ->> 'conversion_rate')::numeric, 0.5, 'stats: conversion rate = paid / closed sessions');
select is(:'st'::jsonb -> 'last_24h', '{"created": 9, "paid": 3, "conversion_rate": 0.5}'::jsonb, 'stats: the last 24 hours');
select is(:'st'::jsonb -> 'active_reservations', '{"sessions": 2, "units": 3}'::jsonb, 'stats: active reservations count unexpired ones only');
select is(:'st'::jsonb -> 'late_payments', '{"orders": 1, "out_of_stock": 1}'::jsonb, 'stats: late payments, with and without stock');
select is(:'st'::jsonb -> 'refunds_owed' -> 'by_currency', '{"ARS": 2001, "USD": 1000}'::jsonb, 'stats: refunds owed, summed per currency');
-- refunds_owed.count is the number of refunds owed (3), not of currencies (2):
-- checkout.stats() once counted the rows grouped by currency.
select is((:'st'::jsonb -> 'refunds_owed' ->> 'count')::integer, 3, 'stats: the number of refunds owed');
select is((:'st'::jsonb ->> 'refunds_made')::integer, 1, 'stats: refunds made');
select is((:'st'::jsonb ->> 'amount_mismatches')::integer, 2, 'stats: amount or currency mismatches');
select is((:'st'::jsonb ->> 'expired_last_24h')::integer, 1, 'stats: sessions expired in the last 24 hours');
select is(:'st'::jsonb -> 'orders' -> 'by_status', '{"paid": 2, "refunded": 1}'::jsonb, 'stats: orders by status');
-- BUG: same function: orders.total is count(*) over the rows grouped by
-- status, i.e. the number of distinct statuses (2 here), not the number of
-- orders (3).
select is((:'st'::jsonb -> 'orders' ->> 'total')::integer, 3, 'stats: the number of orders');

select * from finish();
rollback;
