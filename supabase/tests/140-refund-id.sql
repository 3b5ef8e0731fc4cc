-- A refund recorded first by MercadoPago's 'refunded' notification keeps the
-- refund id that the call which made the refund reports afterwards.
begin;
select plan(3);

select tests.create_variant('RF-A', 1, 1000) as va \gset
select tests.create_shopper('rf-1') \gset
select tests.authenticate_as('rf-1') \gset
select public.add_to_cart(:'va', 1) \gset
select tests.authenticate_as_service_role() \gset
select s ->> 'id' as sid, s ->> 'token' as tok from tests.begin_checkout('rf-1') s \gset
select tests.clear_authentication() \gset
select tests.expire_order_session(:'sid') \gset
update public.variants set stock_on_hand = 0 where id = :'va';
select tests.authenticate_as_service_role() \gset

select is(checkout.apply_payment(tests.payment(:'tok', 'approved', 1000, 9140001)) ->> 'outcome', 'refund_owed',
  'paid after expiry with no stock left: a refund is owed');
-- MercadoPago's 'refunded' notification arrives first: recorded without an id.
select checkout.apply_payment(tests.payment(:'tok', 'refunded', 1000, 9140001)) \gset
select checkout.record_refund(9140001, 'R-9140001') \gset
select is((select mp_refund_id from public.payment_refunds where payment_id = 9140001), 'R-9140001',
  'the refund id reported afterwards is kept');
select is((select status from public.payment_refunds where payment_id = 9140001), 'refunded', 'and the refund stays refunded');

select * from finish();
rollback;
