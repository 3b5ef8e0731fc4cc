-- The store's country (private.settings.site_id): its currency follows the
-- site, the locale is one of the seven, checkout.store_country() answers the
-- functions (service_role only), and a checkout of a cart priced in another
-- currency than the store's is refused with CKM03, writing nothing.
begin;
\ir helpers/tests.psql
select plan(15);

select tests.create_shopper('sc-ana') as ana, tests.create_shopper('sc-bia') as bia,
       tests.create_variant('SC-ARS', 5, 1000) as v_ars,
       tests.create_variant('SC-BRL', 5, 49.90, 'BRL') as v_brl \gset
select tests.fill_cart('sc-ana', array[:'v_ars']::uuid[], array[1]) \gset
select tests.fill_cart('sc-bia', array[:'v_brl']::uuid[], array[2]) \gset
select tests.clear_authentication() \gset

-- ---------------------------------------------------------------------------
-- The setting
select is(checkout.store_country(), '{"site_id": "MLA", "currency": "ARS", "locale": "es-AR"}'::jsonb,
  'store_country: Argentina by default (MLA, ARS, es-AR)');
update private.settings set site_id = 'MLB', locale = 'pt-BR';
select is(checkout.store_country(), '{"site_id": "MLB", "currency": "BRL", "locale": "pt-BR"}'::jsonb, 'store_country: Brazil once the site is MLB');
update private.settings set site_id = 'MCO', locale = 'es-CO';
select is((select currency from private.settings), 'COP', 'settings: Colombia sells in COP');
update private.settings set site_id = 'MLC';
select is((select currency from private.settings), 'CLP', 'settings: Chile sells in CLP');
update private.settings set site_id = 'MLM';
select is((select currency from private.settings), 'MXN', 'settings: Mexico sells in MXN');
update private.settings set site_id = 'MPE';
select is((select currency from private.settings), 'PEN', 'settings: Peru sells in PEN');
update private.settings set site_id = 'MLU';
select is((select currency from private.settings), 'UYU', 'settings: Uruguay sells in UYU');
-- An unknown site has no currency: the generated column's not-null refuses it first.
select throws_ok($$ update private.settings set site_id = 'MLX' $$, '23502', null, 'settings: an unknown site is refused');
select throws_ok($$ update private.settings set locale = 'en-US' $$, '23514', null, 'settings: a locale outside the seven is refused');
select throws_ok($$ update private.settings set currency = 'USD' $$, '428C9', null, 'settings: the currency follows the site and cannot be set');

-- ---------------------------------------------------------------------------
-- Who may read it
select tests.authenticate_as('sc-ana') \gset
select throws_ok($$ select checkout.store_country() $$, '42501', null, 'store_country: a shopper may not call it');
select tests.clear_authentication() \gset
set local role anon;
select throws_ok($$ select checkout.store_country() $$, '42501', null, 'store_country: anon may not call it');
reset role;

-- ---------------------------------------------------------------------------
-- The checkout refuses a cart in another currency, writing nothing
update private.settings set site_id = 'MLB', locale = 'pt-BR';
select tests.authenticate_as_service_role() \gset
select throws_ok($$ select tests.begin_checkout('sc-ana') $$, 'CKM03', 'the cart is priced in ARS but the store sells in BRL',
  'begin_checkout: a cart in ARS is refused by a store in Brazil');
select is((select count(*) from public.order_sessions where session_id = :'ana'), 0::bigint, 'begin_checkout: the refused checkout wrote no order session');
select is(tests.begin_checkout('sc-bia') ->> 'currency', 'BRL', 'begin_checkout: a cart in BRL is taken by a store in Brazil');
select tests.clear_authentication() \gset

select * from finish();
rollback;
