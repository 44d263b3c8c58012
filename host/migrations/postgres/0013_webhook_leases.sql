-- The deliveries under a live lease, by subscription: a claim counts them so that subscriptions
-- take turns for the delivery tasks however many leases one of them holds already.
CREATE INDEX webhook_deliveries_leased ON webhook_deliveries(leased_until_ms, subscription_id);
