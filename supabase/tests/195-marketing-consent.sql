-- Consent before marketing (11_email_outbox.sql): a cart
-- reminder goes only to a confirmed account email or to an address whose
-- owner confirmed the checkout opt-in, and never after an unsubscribe; the
-- confirmation email goes out at most once a day per address; every step is
-- recorded with its time; email.marketing_consent answers in Shopify's terms.
begin;
\ir helpers/tests.psql
select plan(25);

delete from email.outbox;
delete from public.carts;
select tests.create_variant('MC-A', 100, 1000) \gset
select count(tests.create_shopper(n)) from unnest(array['mc-typed', 'mc-box', 'mc-account', 'mc-unconfirmed', 'mc-victim', 'mc-other']) n;
create function pg_temp.checkout(p_name text, p_email text, p_opt_in boolean) returns jsonb language plpgsql as $$
declare
  r jsonb;
begin
  perform tests.authenticate_as(p_name);
  perform public.add_to_cart(tests.variant('MC-A'), 1);
  perform tests.authenticate_as_service_role();
  r := checkout.begin_client_checkout(tests.shopper(p_name), jsonb_build_object('email', p_email, 'name', p_name),
    '{"street_name": "Mitre", "street_number": "50", "zip_code": "B1900", "city": "La Plata"}'::jsonb, null, null, p_opt_in);
  perform checkout.release_session((r ->> 'id')::uuid, 'the shopper left');
  perform tests.clear_authentication();
  return r;
end
$$;
-- The shopper's cart idle for 2 hours, then detection; how many reminders it has.
create function pg_temp.reminded(p_name text) returns integer language plpgsql as $$
begin
  perform tests.set_cart_idle(p_name, interval '2 hours');
  perform email.detect_abandoned_carts();
  return (select count(*)::integer from email.outbox where kind = 'cart_reminder' and session_id = tests.shopper(p_name));
end
$$;
create function pg_temp.state(p_email text) returns text language sql as $$
  select email.marketing_consent(null, p_email) ->> 'state'
$$;
grant execute on function pg_temp.checkout(text, text, boolean), pg_temp.reminded(text), pg_temp.state(text) to public;

-- A typed payer email, the box left unticked: no reminder, no email at all.
select pg_temp.checkout('mc-typed', 'Stranger@Example.com', false) \gset
select is(pg_temp.reminded('mc-typed'), 0, 'a typed payer email without the box: no reminder');
select is((select count(*)::integer from email.outbox where recipient = 'stranger@example.com'), 0, 'and nothing else is sent to it');
select is(pg_temp.state('stranger@example.com'), 'not_subscribed', 'its consent: not_subscribed');

-- The box ticked: a confirmation email, pending until its link is clicked.
select pg_temp.checkout('mc-box', 'Box@Example.com', true) ->> 'id' as box_session \gset
select is((select count(*)::integer from email.outbox where kind = 'marketing_opt_in' and recipient = 'box@example.com'), 1,
  'the box ticked: one confirmation email to the payer');
select is(pg_temp.state('box@example.com'), 'pending', 'pending until confirmed');
select is(pg_temp.reminded('mc-box'), 0, 'the box ticked, the link not clicked: no reminder');
select is((select session_id from email.marketing_consents where email = 'box@example.com'), tests.shopper('mc-box'), 'the request names the shopper');
select is((select order_session_id::text from email.marketing_consents where email = 'box@example.com'), :'box_session', 'and the checkout');

-- The link clicked: subscribed, a confirmed opt-in, and the reminder goes out.
select email.confirm_marketing_opt_in('box@example.com') \gset
select is(email.marketing_consent(tests.shopper('mc-box'), 'box@example.com') - 'consent_updated_at',
  '{"email": "box@example.com", "state": "subscribed", "opt_in_level": "confirmed_opt_in", "source": "checkout"}'::jsonb,
  'confirmed: subscribed, confirmed_opt_in, from the checkout');
select is((email.marketing_consent(null, 'box@example.com') ->> 'consent_updated_at')::timestamptz, now(), 'with the time it was confirmed');
select is(pg_temp.reminded('mc-box'), 1, 'after the click, the reminder is queued');

-- Unsubscribing withdraws it, and is recorded.
select email.unsubscribe('box@example.com') \gset
select is(pg_temp.state('box@example.com'), 'unsubscribed', 'unsubscribed through the one-click link');
select is((select count(*)::integer from email.outbox where recipient = 'box@example.com' and kind = 'cart_reminder' and status = 'pending'), 0,
  'the pending reminder is skipped');
update public.carts set updated_at = updated_at - interval '1 second' where session_id = tests.shopper('mc-box');
select is(pg_temp.reminded('mc-box'), 1, 'no new reminder after unsubscribing');
select results_eq($$ select event from email.consent_events where email = 'box@example.com' order by id $$,
  array['opt_in_requested', 'opt_in_confirmed', 'unsubscribed'], 'each step is recorded, in order');

-- Ticking the box again does not undo the unsubscribe until the new link is clicked.
select pg_temp.checkout('mc-box', 'box@example.com', true) \gset
select is(pg_temp.state('box@example.com'), 'unsubscribed', 'the box ticked again: still unsubscribed until confirmed');
select is((select count(*)::integer from email.outbox where kind = 'marketing_opt_in' and recipient = 'box@example.com'), 1,
  'and no second confirmation email the same day');
select email.confirm_marketing_opt_in('box@example.com') \gset
select is(pg_temp.state('box@example.com'), 'subscribed', 'confirmed again: subscribed again');

-- Anyone can type a stranger's address and tick the box: one email a day, whoever asks.
select pg_temp.checkout('mc-victim', 'victim@example.com', true) \gset
select pg_temp.checkout('mc-other', 'victim@example.com', true) \gset
select is((select count(*)::integer from email.outbox where kind = 'marketing_opt_in' and recipient = 'victim@example.com'), 1,
  'two shoppers ticking the box for one address: one confirmation email');

-- The account's email counts once Auth confirmed it.
update auth.users set is_anonymous = false, email = 'account@example.com', email_confirmed_at = now() - interval '3 days' where id = tests.shopper('mc-account');
update auth.users set is_anonymous = false, email = 'unconfirmed@example.com' where id = tests.shopper('mc-unconfirmed');
select tests.authenticate_as('mc-account') \gset
select public.add_to_cart(tests.variant('MC-A'), 1) \gset
select tests.authenticate_as('mc-unconfirmed') \gset
select public.add_to_cart(tests.variant('MC-A'), 1) \gset
select tests.clear_authentication() \gset
select is(pg_temp.reminded('mc-account'), 1, 'a confirmed account email: reminded');
select is(email.marketing_consent(tests.shopper('mc-account'), 'account@example.com') ->> 'source', 'account', 'its consent comes from the account');
select is(pg_temp.reminded('mc-unconfirmed'), 0, 'an account email Auth never confirmed: not reminded');

-- The order confirmation is transactional: it goes to the payer without any consent.
select tests.authenticate_as('mc-typed') \gset
select public.add_to_cart(tests.variant('MC-A'), 1) \gset
select tests.authenticate_as_service_role() \gset
select s ->> 'token' as t_typed, s ->> 'total' as total_typed from checkout.begin_client_checkout(tests.shopper('mc-typed'), '{"email": "stranger@example.com", "name": "Ana"}',
  '{"street_name": "Mitre", "street_number": "50", "zip_code": "B1900", "city": "La Plata"}', null, null, false) s \gset
select checkout.apply_payment(tests.payment(:'t_typed', 'approved', :total_typed, 9195001)) \gset
select is((select count(*)::integer from email.outbox where kind = 'order_confirmation' and recipient = 'stranger@example.com'), 1,
  'the order confirmation still goes to the payer');

select throws_ok($$ select email.request_marketing_opt_in('not an email', tests.shopper('mc-box'), null) $$, 'CKI01', null,
  'a request without a valid email: CKI01');
select tests.clear_authentication() \gset
select tests.authenticate_as('mc-box') \gset
select throws_ok($$ select email.confirm_marketing_opt_in('box@example.com') $$, '42501', null, 'a shopper cannot confirm by herself');

select * from finish();
rollback;
