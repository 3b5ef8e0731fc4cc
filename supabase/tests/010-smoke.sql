begin;
select plan(2);
select tests.create_shopper('ana');
select tests.create_variant('SMOKE-1', 5);
select tests.authenticate_as('ana');
select is((public.add_to_cart(tests.variant('SMOKE-1'), 2) ->> 'item_count')::integer, 2, 'a shopper adds to the cart');
select throws_ok($$ select public.add_to_cart(tests.variant('SMOKE-1'), 4) $$, 'CKS01', 'only 5 of SMOKE-1 available, 6 requested', 'more than available is refused');
select * from finish();
rollback;
