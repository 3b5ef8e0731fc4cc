-- variants.reserved follows reservation rows on insert and delete only: a
-- reservation's variant and quantity never change (CKI02), while expires_at
-- still may (expiry, renewal).
begin;
\ir helpers/tests.psql
select plan(5);

select tests.create_shopper('rc-buyer') as buyer, tests.create_variant('RC-A', 10, 100) as va,
       tests.create_variant('RC-B', 10, 100) as vb \gset
select tests.fill_cart('rc-buyer', array[:'va']::uuid[], array[3]) \gset
select tests.clear_authentication() \gset
select tests.authenticate_as_service_role() \gset
select (tests.begin_checkout('rc-buyer') ->> 'id') as os \gset
select tests.clear_authentication() \gset

select is((select reserved from public.variants where id = :'va'), 3, 'insert: the variant counts the reserved units');
select throws_ok(format($$ update checkout.stock_reservations set quantity = 5 where order_session_id = %L $$, :'os'), 'CKI02', null,
  'a reservation''s quantity cannot change');
select throws_ok(format($$ update checkout.stock_reservations set variant_id = %L where order_session_id = %L $$, :'vb', :'os'), 'CKI02', null,
  'a reservation''s variant cannot change');
select lives_ok(format($$ update checkout.stock_reservations set expires_at = expires_at - interval '1 minute' where order_session_id = %L $$, :'os'),
  'its expiry still moves');
delete from checkout.stock_reservations where order_session_id = :'os';
select is((select reserved from public.variants where id = :'va'), 0, 'delete: the units come back');

select * from finish();
rollback;
