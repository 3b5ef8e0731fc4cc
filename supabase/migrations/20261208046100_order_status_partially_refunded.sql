-- Issue 23: an order the store refunded in part from the dashboard. On its
-- own, so that the next migration can use the new value.
alter type public.order_status add value if not exists 'partially_refunded' after 'in_mediation';
