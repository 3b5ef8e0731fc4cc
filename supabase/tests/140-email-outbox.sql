-- The email outbox: which carts get a recovery email (and how many), order
-- confirmations exactly once per order, claiming and settling rows, opt-out,
-- restoring a reminded cart. (Concurrent detection runs: tests/db/email.test.ts.)
begin;
\ir helpers/tests.psql
select plan(35);

-- (npm test runs pgTAP on a fresh database; a reused one may hold committed carts)
delete from email.outbox;
delete from public.carts;
-- Makes a cart idle since p_ago (its last activity), as time passing would.
create function pg_temp.idle(p_name text, p_ago interval) returns void language sql as $$
  select tests.set_cart_idle(p_name, p_ago);
$$;
create function pg_temp.sign_up(p_name text) returns void language sql security definer as $$
  update auth.users set is_anonymous = false, email = p_name || '@Example.com', email_confirmed_at = now() where id = tests.shopper(p_name);
$$;
create function pg_temp.reminders(p_name text) returns integer language sql as $$
  select count(*)::integer from email.outbox where kind = 'cart_reminder' and session_id = tests.shopper(p_name);
$$;
-- Functions the schema's owner creates carry no EXECUTE for PUBLIC (the
-- default in 00_foundation.sql); these are called as other roles.
grant execute on function pg_temp.idle(text, interval), pg_temp.sign_up(text), pg_temp.reminders(text) to public;

select tests.create_variant('EM-A', 100, 1000) as va \gset
select count(tests.create_shopper(n)) from unnest(array['em-known', 'em-payer', 'em-anon', 'em-fresh', 'em-empty', 'em-bought',
                                                        'em-optout', 'em-old', 'em-checkout', 'em-to']) n;
select pg_temp.sign_up(n) from unnest(array['em-known', 'em-fresh', 'em-empty', 'em-bought', 'em-optout', 'em-old', 'em-checkout']) n;
insert into email.unsubscribes (email) values ('em-optout@example.com');
-- em-payer ticked the marketing box at checkout and clicked the link (the
-- consent rules themselves: 195-marketing-consent.sql).
insert into email.marketing_consents (email, state, source, confirmed_at) values ('em-payer@example.com', 'subscribed', 'confirmation_link', now());
do $$
declare
  n text;
begin
  foreach n in array array['em-known', 'em-payer', 'em-anon', 'em-fresh', 'em-bought', 'em-optout', 'em-old', 'em-checkout'] loop
    perform tests.authenticate_as(n);
    perform public.add_to_cart(tests.variant('EM-A'), 2);
  end loop;
  perform tests.authenticate_as('em-empty');
  insert into public.carts (session_id) values (tests.shopper('em-empty'));
  perform tests.clear_authentication();
end
$$;

-- em-payer checked out (its email is now known from the payer) and let it go;
-- em-bought paid; em-checkout is paying right now.
select tests.authenticate_as_service_role() \gset
select s ->> 'id' as s_payer from tests.begin_checkout('em-payer') s \gset
select checkout.release_session(:'s_payer', 'test') \gset
select s ->> 'token' as t_bought from tests.begin_checkout('em-bought') s \gset
select checkout.apply_payment(tests.payment(:'t_bought', 'approved', 2000, 9130001)) \gset
select tests.begin_checkout('em-checkout') \gset
select tests.clear_authentication() \gset

select pg_temp.idle(n, interval '2 hours') from unnest(array['em-known', 'em-payer', 'em-anon', 'em-empty', 'em-bought', 'em-optout', 'em-checkout']) n;
select pg_temp.idle('em-fresh', interval '10 minutes');
select pg_temp.idle('em-old', interval '2 days');

select tests.authenticate_as_service_role() \gset
select is(email.detect_abandoned_carts(), 2, 'detection: two carts are abandoned');
select results_eq(
  $$ select recipient from email.outbox where kind = 'cart_reminder' order by recipient $$,
  array['em-known@example.com', 'em-payer@example.com'],
  'detection: the signed-up shopper (confirmed account email) and the one who checked out and confirmed the opt-in (payer email); not anonymous, fresh, empty, bought, opted out, too old or in checkout'
);
select is(
  (select idle_since from email.outbox where session_id = tests.shopper('em-known')), now() - interval '2 hours',
  'detection: the reminder names the idle period (the cart''s last activity)'
);
select is(email.detect_abandoned_carts(), 0, 'detection again: nothing new (once per cart and idle period)');
select is(pg_temp.reminders('em-known'), 1, 'detection again: still one reminder for the cart');

-- Touched again and abandoned again: one more, up to reminder_max_per_cart (2).
select pg_temp.idle('em-known', interval '90 minutes');
select is(email.detect_abandoned_carts(), 1, 'abandoned again: one more reminder');
select pg_temp.idle('em-known', interval '80 minutes');
select is(email.detect_abandoned_carts(), 0, 'abandoned a third time: no more than 2 per cart');
select is(pg_temp.reminders('em-known'), 2, 'two reminders in all for that cart');

select tests.clear_authentication() \gset
update private.settings set reminder_idle = interval '3 hours';
select tests.authenticate_as_service_role() \gset
select pg_temp.idle('em-anon', interval '2 hours');
select pg_temp.sign_up('em-anon');
select is(email.detect_abandoned_carts(), 0, 'reminder_idle is a setting: 3 hours leaves 2-hour-idle carts alone');
select tests.clear_authentication() \gset
update private.settings set reminder_idle = interval '1 hour';
select tests.authenticate_as_service_role() \gset
select is(email.detect_abandoned_carts(), 1, 'an anonymous shopper who signs up becomes reachable');

-- Order confirmations: exactly one per order, even when the payment is applied again.
select is(
  (select count(*)::integer from email.outbox where kind = 'order_confirmation' and session_id = tests.shopper('em-bought')), 1,
  'a paid order puts one confirmation in the outbox'
);
select checkout.apply_payment(tests.payment(:'t_bought', 'approved', 2000, 9130001)) \gset
select is(
  (select count(*)::integer from email.outbox where kind = 'order_confirmation' and session_id = tests.shopper('em-bought')), 1,
  'the same payment applied again: still one confirmation'
);
select is(
  (select recipient from email.outbox where kind = 'order_confirmation' and session_id = tests.shopper('em-bought')),
  'em-bought@example.com', 'the confirmation goes to the payer'
);

-- Claiming: what the sender gets.
select tests.clear_authentication() \gset
update public.variants set price = 1250 where id = :'va';
select tests.authenticate_as_service_role() \gset
select email.claim(50) as c \gset
select is(jsonb_array_length(:'c'::jsonb), 3, 'claim: the due rows (two reminders, one confirmation; em-known''s two reminders name idle periods its cart has left)');
select is(
  (select count(*)::integer from email.outbox where status = 'sending'), 3, 'claim: the rows are leased (sending)'
);
select is(email.claim(50), '[]'::jsonb, 'claim again: leased rows are not handed out twice');
select is(
  (select e -> 'data' -> 'lines' -> 0 -> 'unit_price' from jsonb_array_elements(:'c'::jsonb) e where e ->> 'recipient' = 'em-payer@example.com'),
  '1250'::jsonb, 'claim: a reminder shows today''s price'
);
select is(
  (select (e -> 'data' ->> 'total')::numeric from jsonb_array_elements(:'c'::jsonb) e where e ->> 'recipient' = 'em-payer@example.com'),
  2500::numeric, 'claim: and the total at today''s prices'
);
select ok(
  (select e -> 'data' ->> 'order_number' like 'ORD-%' and e -> 'data' -> 'shipping_address' ->> 'city' = 'CABA'
     from jsonb_array_elements(:'c'::jsonb) e where e ->> 'kind' = 'order_confirmation'),
  'claim: a confirmation has the order number and the shipping address'
);
select is(
  (select e ->> 'idempotency_key' from jsonb_array_elements(:'c'::jsonb) e where e ->> 'kind' = 'order_confirmation'),
  'outbox-' || (select id from email.outbox where kind = 'order_confirmation' and session_id = tests.shopper('em-bought')),
  'claim: the idempotency key is the outbox row'
);

-- Settling: sent, retryable, permanent.
select id as r_payer from email.outbox where recipient = 'em-payer@example.com' \gset
select id as r_anon from email.outbox where recipient = 'em-anon@example.com' \gset
select id as r_conf from email.outbox where kind = 'order_confirmation' and session_id = tests.shopper('em-bought') \gset
select email.mark_sent(:r_payer, 'prov-1') \gset
select is((select status from email.outbox where id = :r_payer), 'sent', 'mark_sent: sent');
select is(
  (select reminded_at from analytics.cart_facts f join public.carts c using (session_id, created_at) where c.session_id = tests.shopper('em-payer')),
  now(), 'mark_sent: the cart''s analytics fact records the reminder'
);
select is((email.mark_failed(:r_anon, '{"status": 429}', true)) ->> 'status', 'pending', 'mark_failed retryable: pending again');
select ok((select next_attempt_at > now() from email.outbox where id = :r_anon), 'mark_failed retryable: after a backoff');
select is(email.claim(50), '[]'::jsonb, 'a row backing off is not claimed before its time');
select is((email.mark_failed(:r_conf, '{"status": 400}', false)) ->> 'status', 'failed', 'mark_failed permanent: failed, not retried');
select email.mark_sent(:r_conf, 'late') \gset
select is((select status from email.outbox where id = :r_conf), 'failed', 'a failed row is not marked sent afterwards');

-- Opting out skips what is pending and stops detection.
select email.unsubscribe('EM-ANON@example.com') \gset
select is((select status from email.outbox where id = :r_anon), 'skipped', 'unsubscribe: the pending reminder is skipped');
select pg_temp.idle('em-anon', interval '70 minutes');
select is(email.detect_abandoned_carts(), 0, 'unsubscribe: no new reminder for that address');

-- A reminder whose cart came back to life before it was sent is skipped.
update email.outbox set status = 'pending', claimed_until = null where recipient = 'em-known@example.com';
select pg_temp.idle('em-known', interval '5 minutes');
select is(email.claim(50), '[]'::jsonb, 'claim: a reminder for a cart active again is not sent');
select is(
  (select array_agg(distinct last_error ->> 'reason') from email.outbox where recipient = 'em-known@example.com'),
  array['cart_active_again'], 'claim: it is skipped with its reason'
);

-- Restoring a reminded cart into another session's cart.
select email.restore_cart(tests.shopper('em-payer'), (select created_at from public.carts where session_id = tests.shopper('em-payer')), tests.shopper('em-to')) as rs \gset
select is((:'rs'::jsonb ->> 'restored')::integer, 1, 'restore: the line is copied');
select is(
  (select quantity from public.cart_items where session_id = tests.shopper('em-to') and variant_id = :'va'), 2,
  'restore: with its quantity, into the caller''s cart'
);
select throws_ok(
  format('select email.restore_cart(%L, %L, %L)', tests.shopper('em-payer'), now() - interval '1 year', tests.shopper('em-to')),
  'CKO01', null, 'restore: a link to a cart that is gone (another created_at) is refused'
);

select tests.clear_authentication() \gset
select is_empty(
  $$ select p.oid::regprocedure from pg_proc p
      where p.pronamespace = 'email'::regnamespace
        and (has_function_privilege('anon', p.oid, 'execute') or has_function_privilege('authenticated', p.oid, 'execute')) $$,
  'email: no function is executable by anon or authenticated'
);

select * from finish();
rollback;
